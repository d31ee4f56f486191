-- device-attest-01 (draft-ietf-acme-device-attest): authorizations for
-- permanent-identifier and hardware-module identifiers, and the key a TPM
-- attested for one, which finalize requires the CSR to carry.
ALTER TABLE acme_authzs DROP CONSTRAINT acme_authzs_identifier_type_check;
ALTER TABLE acme_authzs ADD CONSTRAINT acme_authzs_identifier_type_check
	CHECK (identifier_type IN ('dns', 'ip', 'permanent-identifier', 'hardware-module'));
ALTER TABLE acme_authzs ADD COLUMN attested_key bytea;
ALTER TABLE acme_authzs ADD COLUMN attested_ak_serial text;
COMMENT ON COLUMN acme_authzs.attested_key IS 'device-attest-01: SubjectPublicKeyInfo DER of the key the TPM certified (pubArea); finalize requires the CSR''s key to be this one';
COMMENT ON COLUMN acme_authzs.attested_ak_serial IS 'device-attest-01: serial (hex) of the AK certificate that signed the evidence';

-- The quote gate: a fleet policy per enrollment (individual or group) that
-- device-attest-01 then requires a fresh TPM quote to satisfy, and the
-- verdict recorded on the authorization.
CREATE TABLE attest_policies (
	enrollment_kind text NOT NULL CHECK (enrollment_kind IN ('individual', 'group')),
	enrollment_id text NOT NULL,
	policy jsonb NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (enrollment_kind, enrollment_id)
);
COMMENT ON TABLE attest_policies IS 'PUT /attestation/policies/{kind}/{id}: the verifier''s PCR policy document ({"pcrs": ..., "events": ...}) a device of that enrollment must satisfy to be issued a device-attest-01 certificate';
ALTER TABLE acme_authzs ADD COLUMN attestation_verdict jsonb;
COMMENT ON COLUMN acme_authzs.attestation_verdict IS 'device-attest-01 with a policy: {"policy": "individual/<id>" | "group/<id>", "passed": bool, "failures": [...]}; NULL without a policy';
