-- The CA's record: every certificate pki_issue() made, with what it names,
-- who asked for it and whether it is revoked. The CRL is built from it.
CREATE TABLE certificates (
  serial           text PRIMARY KEY CHECK (serial ~ '^[0-9a-f]{32}$'),
  seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  sans             text NOT NULL,
  key_type         text NOT NULL,
  profile          text NOT NULL,
  not_before       timestamptz NOT NULL,
  not_after        timestamptz NOT NULL,
  acme_account_id  text,
  acme_order_id    text,
  dps_registration text,
  der              bytea NOT NULL,
  issued_at        timestamptz NOT NULL DEFAULT now(),
  revoked_at       timestamptz,
  revocation_reason smallint CHECK (revocation_reason BETWEEN 0 AND 10 AND revocation_reason <> 7),
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
);
COMMENT ON TABLE certificates IS 'every certificate the CA issued (pki_issue), one row each';
COMMENT ON COLUMN certificates.serial IS 'the 128-bit random serial, 32 lower-case hex digits';
COMMENT ON COLUMN certificates.seq IS 'issue order: the keyset cursor of listings';
COMMENT ON COLUMN certificates.sans IS 'the subject alternative names as text: "DNS:a.example, IP:192.0.2.1"';
COMMENT ON COLUMN certificates.key_type IS 'the leaf key: p256, p384, rsa2048..rsa4096, ed25519';
COMMENT ON COLUMN certificates.profile IS 'the certificate profile it was issued under (tls-server, device-client...)';
COMMENT ON COLUMN certificates.acme_account_id IS 'the ACME account that ordered it, NULL when not through ACME';
COMMENT ON COLUMN certificates.acme_order_id IS 'the ACME order it finalized, NULL when not through ACME';
COMMENT ON COLUMN certificates.dps_registration IS 'the DPS registration ID it was issued to, NULL when not through DPS';
COMMENT ON COLUMN certificates.der IS 'the certificate, DER';
COMMENT ON COLUMN certificates.revoked_at IS 'when it was revoked; NULL while not revoked';
COMMENT ON COLUMN certificates.revocation_reason IS 'RFC 5280 CRLReason code; NULL while not revoked';
CREATE INDEX certificates_revoked ON certificates (not_after) WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_acme_order ON certificates (acme_order_id) WHERE acme_order_id IS NOT NULL;
