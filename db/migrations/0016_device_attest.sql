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
