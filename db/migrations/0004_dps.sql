-- Azure DPS-compatible provisioning: the service's settings (its ID scope),
-- enrollments (individual and group, one table) and the registration state
-- of every device that registered.
CREATE TABLE dps_settings (
	name text PRIMARY KEY,
	value text NOT NULL
);
COMMENT ON TABLE dps_settings IS 'service-wide DPS settings: id_scope (0ne + 8 upper-case hex digits), set on first start or from ORCHARD_ID_SCOPE';

CREATE TABLE dps_enrollments (
	kind text NOT NULL CHECK (kind IN ('individual', 'group')),
	id text NOT NULL,
	attestation_type text NOT NULL CHECK (attestation_type IN ('symmetricKey', 'x509', 'tpm')),
	primary_key text,
	secondary_key text,
	provisioning_status text NOT NULL CHECK (provisioning_status IN ('enabled', 'disabled')),
	device_id text,
	iot_hub_host_name text,
	initial_twin jsonb,
	capabilities jsonb,
	etag text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (kind, id)
);
COMMENT ON TABLE dps_enrollments IS 'individual enrollments (id = registrationId) and enrollment groups (id = enrollmentGroupId)';
COMMENT ON COLUMN dps_enrollments.primary_key IS 'symmetricKey attestation: base64 key; for a group, the group key that device keys are derived from (HMAC-SHA256 over the registration ID)';
COMMENT ON COLUMN dps_enrollments.etag IS 'changes on every write; If-Match compares it';
CREATE INDEX dps_enrollments_groups_sym ON dps_enrollments (id) WHERE kind = 'group' AND attestation_type = 'symmetricKey';

CREATE TABLE dps_registrations (
	registration_id text PRIMARY KEY,
	device_id text NOT NULL,
	enrollment_kind text NOT NULL CHECK (enrollment_kind IN ('individual', 'group')),
	enrollment_id text NOT NULL,
	status text NOT NULL CHECK (status IN ('assigning', 'assigned', 'failed', 'disabled')),
	substatus text,
	assigned_hub text,
	operation_id text NOT NULL,
	etag text NOT NULL,
	payload jsonb,
	error_code integer,
	error_message text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dps_registrations IS 'registration state per device; twins key on device_id';
COMMENT ON COLUMN dps_registrations.operation_id IS 'the last registration operation: GET .../operations/{operationId} answers for it';
CREATE UNIQUE INDEX dps_registrations_device ON dps_registrations (device_id);
