-- DPS TPM and X.509 attestation: what an enrollment pins or trusts, the
-- pending TPM authenticationKey a device must sign its next request with,
-- and the TPM-encrypted hub key an assigned TPM device receives.
ALTER TABLE dps_enrollments ADD COLUMN attestation_params jsonb;
COMMENT ON COLUMN dps_enrollments.attestation_params IS 'tpm individual: {"endorsementKey": base64 TPM2B_PUBLIC}; tpm group: {"rootCertificates": [PEM...]} (manufacturer roots the EK certificate must chain to); x509: the pinned thumbprints or signing CAs';
CREATE INDEX dps_enrollments_groups_by_type ON dps_enrollments (attestation_type, id) WHERE kind = 'group';

ALTER TABLE dps_registrations ADD COLUMN tpm_authentication_key text;
ALTER TABLE dps_registrations ADD COLUMN device_key text;
COMMENT ON COLUMN dps_registrations.tpm_authentication_key IS 'TPM devices: registrationState.tpm.authenticationKey, base64 blob only that TPM can import (it holds device_key)';
ALTER TABLE dps_registrations ADD COLUMN issued_certificate_chain jsonb;
COMMENT ON COLUMN dps_registrations.issued_certificate_chain IS 'certificate issuance at registration (2025-07-01-preview): base64 DER, leaf first, as issuedCertificateChain';
COMMENT ON COLUMN dps_registrations.device_key IS 'TPM devices: the base64 HMAC key for the device''s twin credential, delivered encrypted to its TPM';

CREATE TABLE dps_tpm_challenges (
	registration_id text PRIMARY KEY,
	enrollment_kind text NOT NULL CHECK (enrollment_kind IN ('individual', 'group')),
	enrollment_id text NOT NULL,
	auth_key text NOT NULL,
	endorsement_key text NOT NULL,
	storage_root_key text NOT NULL,
	expires_at timestamptz NOT NULL
);
COMMENT ON TABLE dps_tpm_challenges IS 'the authenticationKey a TPM device was sent in a 401: it signs that registration''s device SAS (only) until expires_at; a new challenge replaces it';
COMMENT ON COLUMN dps_tpm_challenges.auth_key IS 'base64 HMAC key, encrypted to the device''s EK and SRK in the 401';
COMMENT ON COLUMN dps_tpm_challenges.endorsement_key IS 'base64 TPM2B_PUBLIC of the EK, as the device sent it';
COMMENT ON COLUMN dps_tpm_challenges.storage_root_key IS 'base64 TPM2B_PUBLIC of the SRK, as the device sent it';
