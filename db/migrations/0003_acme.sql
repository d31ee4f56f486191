-- ACME (RFC 8555): anti-replay nonces, shared by every orchardd on the
-- database so any instance accepts any nonce exactly once, and accounts.
CREATE UNLOGGED TABLE acme_nonces (
  nonce      text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
COMMENT ON TABLE acme_nonces IS 'Replay-Nonce values issued and not yet used; a use deletes the row. Unlogged: after a crash clients get badNonce and retry with a fresh one';
COMMENT ON COLUMN acme_nonces.expires_at IS 'the database clock past which the nonce is refused; expired rows are purged periodically';
CREATE INDEX acme_nonces_expires ON acme_nonces (expires_at);

CREATE TABLE acme_accounts (
  id             text PRIMARY KEY,
  key_thumbprint text NOT NULL UNIQUE,
  jwk            text NOT NULL,
  contact        jsonb NOT NULL DEFAULT '[]',
  tos_agreed     boolean NOT NULL DEFAULT false,
  status         text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'deactivated', 'revoked')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE acme_accounts IS 'ACME accounts: one per account key';
COMMENT ON COLUMN acme_accounts.id IS 'random, base64url; the account URL is /acme/account/<id>';
COMMENT ON COLUMN acme_accounts.key_thumbprint IS 'RFC 7638 SHA-256 thumbprint of the account key, base64url';
COMMENT ON COLUMN acme_accounts.jwk IS 'the account public key as RFC 7638 canonical JSON (required members only)';
COMMENT ON COLUMN acme_accounts.contact IS 'JSON array of mailto: URLs';
COMMENT ON COLUMN acme_accounts.status IS 'valid, deactivated (by its holder, final) or revoked (by the operator)';
