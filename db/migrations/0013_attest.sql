-- Orchard as the TPM attestation CA: pending AK challenges (credential
-- activation, single use) and the AK certificates issued, by the EK they
-- name, so that one revoked AK certificate stops that TPM's later ones.
CREATE TABLE attest_ak_challenges (
	id text PRIMARY KEY,
	enrollment_kind text NOT NULL CHECK (enrollment_kind IN ('individual', 'group')),
	enrollment_id text NOT NULL,
	registration_id text NOT NULL,
	ek_hash text NOT NULL,
	attestation_key text NOT NULL,
	tpm_name text,
	secret_hash text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
	expires_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE attest_ak_challenges IS 'POST /attestation/ak/challenge: a credential made for one EK and AK, consumed (deleted) by its one activation';
COMMENT ON COLUMN attest_ak_challenges.id IS 'the challenge ID in /attestation/ak/{id}/activate: 32 random hex digits';
COMMENT ON COLUMN attest_ak_challenges.enrollment_kind IS 'the enrollment the EK belongs to: individual (pins the EK) or group (its roots sign the EK certificate)';
COMMENT ON COLUMN attest_ak_challenges.enrollment_id IS 'its registrationId or enrollmentGroupId';
COMMENT ON COLUMN attest_ak_challenges.registration_id IS 'the device''s registration ID: the AK certificate''s permanentIdentifier';
COMMENT ON COLUMN attest_ak_challenges.ek_hash IS 'standard base64 of SHA-256 over the EK''s SubjectPublicKeyInfo DER (the urn:ek:sha256: URI)';
COMMENT ON COLUMN attest_ak_challenges.attestation_key IS 'base64 TPM2B_PUBLIC of the AK, as sent';
COMMENT ON COLUMN attest_ak_challenges.tpm_name IS 'base64 DER of the EK certificate''s TPM manufacturer/model/version directoryName; NULL without an EK certificate';
COMMENT ON COLUMN attest_ak_challenges.secret_hash IS 'hex SHA-256 of the credential''s secret (the secret itself is never stored)';
COMMENT ON COLUMN attest_ak_challenges.expires_at IS 'activation is refused after this';
CREATE INDEX attest_ak_challenges_expiry ON attest_ak_challenges (expires_at);
CREATE INDEX attest_ak_challenges_ek ON attest_ak_challenges (ek_hash, expires_at);

CREATE TABLE attest_ak_certificates (
	serial text PRIMARY KEY REFERENCES certificates (serial),
	ek_hash text NOT NULL,
	registration_id text NOT NULL,
	enrollment_kind text NOT NULL CHECK (enrollment_kind IN ('individual', 'group')),
	enrollment_id text NOT NULL
);
COMMENT ON TABLE attest_ak_certificates IS 'the AK certificates the attestation CA issued (the certificate itself is in certificates), by EK';
COMMENT ON COLUMN attest_ak_certificates.ek_hash IS 'as attest_ak_challenges.ek_hash: a revoked certificate here stops every later AK certificate for this EK';
COMMENT ON COLUMN attest_ak_certificates.registration_id IS 'the device''s registration ID (permanentIdentifier)';
COMMENT ON COLUMN attest_ak_certificates.enrollment_kind IS 'individual or group, as at the challenge';
COMMENT ON COLUMN attest_ak_certificates.enrollment_id IS 'the enrollment, as at the challenge';
CREATE INDEX attest_ak_certificates_ek ON attest_ak_certificates (ek_hash);

-- Finding a TPM's individual enrollment by its EK, not its registration ID.
CREATE INDEX dps_enrollments_tpm_ek ON dps_enrollments ((attestation_params ->> 'endorsementKey'))
	WHERE kind = 'individual' AND attestation_type = 'tpm';
