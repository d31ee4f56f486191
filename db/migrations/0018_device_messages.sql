-- Device-to-cloud telemetry (IoT Hub's devices/{deviceId}/messages/events/
-- over MQTT): stored, with a bounded retention, for operators to read
-- (GET /devices/{deviceId}/messages). Each insert trims its device's rows
-- to the newest 1000 and to 7 days (server/store/pg_insert_device_message.c).
CREATE TABLE device_messages (
	id bigserial PRIMARY KEY,
	device_id text NOT NULL,
	received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	system_properties jsonb NOT NULL DEFAULT '{}',
	properties jsonb NOT NULL DEFAULT '{}',
	body bytea NOT NULL
);
CREATE INDEX device_messages_device ON device_messages (device_id, id);
COMMENT ON TABLE device_messages IS 'device-to-cloud messages a device published on devices/{deviceId}/messages/events/ (MQTT), newest 1000 per device and at most 7 days old';
COMMENT ON COLUMN device_messages.system_properties IS 'IoT Hub system properties from the topic''s property bag, by their names: messageId ($.mid), correlationId ($.cid), userId ($.uid), to ($.to), contentType ($.ct), contentEncoding ($.ce), expiryTimeUtc ($.exp), interfaceId ($.ifid), dt-subject ($.sub)';
COMMENT ON COLUMN device_messages.properties IS 'the application properties from the topic''s property bag: {"key": "value"}';
COMMENT ON COLUMN device_messages.body IS 'the payload as sent, at most 256 KiB';
