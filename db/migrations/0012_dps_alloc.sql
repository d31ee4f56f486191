-- DPS allocation and reprovisioning: which hub an enrollment's devices
-- are assigned to (hashed, static, or a custom allocation webhook) and what
-- registering again does with an existing assignment.
ALTER TABLE dps_enrollments ADD COLUMN allocation jsonb;
COMMENT ON COLUMN dps_enrollments.allocation IS 'as the service API gave them: {"allocationPolicy": "hashed"|"static"|"custom", "iotHubs": [host...], "customAllocationDefinition": {"webhookUrl", "apiVersion"}, "reprovisionPolicy": {"updateHubAssignment", "migrateDeviceData"}}; NULL: hashed over the linked hubs, Azure''s reprovision defaults (both true)';
