-- The DPS service API's shared access policies (Azure's service SAS): a
-- named pair of keys and the rights a SAS signed with either key carries.
CREATE TABLE dps_policies (
	name text PRIMARY KEY,
	rights text NOT NULL,
	primary_key text NOT NULL,
	secondary_key text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dps_policies IS 'shared access policies: a service SAS (sr = host, skn = name) signed with primary_key or secondary_key is granted rights';
COMMENT ON COLUMN dps_policies.rights IS 'Azure''s names, comma-separated in a fixed order: ServiceConfig, EnrollmentRead, EnrollmentWrite, RegistrationStatusRead, RegistrationStatusWrite';
COMMENT ON COLUMN dps_policies.primary_key IS 'base64 of 64 random bytes (secret: a SAS is an HMAC with it, so it is kept as the enrollments'' symmetric keys are)';
