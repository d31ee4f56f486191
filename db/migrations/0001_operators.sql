-- Operator access: the tokens orchardd has issued (so they can be listed
-- and revoked) and the audit trail of every mutating operator request.
CREATE TABLE operator_tokens (
  jti        text PRIMARY KEY,
  subject    text NOT NULL,
  scopes     text NOT NULL,
  issued_at  timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
COMMENT ON TABLE operator_tokens IS 'Operator JWTs issued by orchardd; the token itself is never stored';
COMMENT ON COLUMN operator_tokens.jti IS 'JWT ID claim, random, names the token';
COMMENT ON COLUMN operator_tokens.subject IS 'who the token was issued to (sub claim)';
COMMENT ON COLUMN operator_tokens.scopes IS 'space-separated scopes granted';
COMMENT ON COLUMN operator_tokens.expires_at IS 'exp claim; revocations matter only until then';
COMMENT ON COLUMN operator_tokens.revoked_at IS 'set once by revocation; NULL while valid';
CREATE INDEX operator_tokens_revoked ON operator_tokens (expires_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE audit_log (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  subject    text NOT NULL,
  jti        text NOT NULL,
  method     text NOT NULL,
  path       text NOT NULL,
  status     integer NOT NULL,
  request_id text NOT NULL
);
COMMENT ON TABLE audit_log IS 'one row per mutating operator request, whatever its outcome';
COMMENT ON COLUMN audit_log.subject IS 'sub claim of the token used';
COMMENT ON COLUMN audit_log.jti IS 'jti claim of the token used';
COMMENT ON COLUMN audit_log.path IS 'request path without the query string';
COMMENT ON COLUMN audit_log.status IS 'HTTP status answered';
COMMENT ON COLUMN audit_log.request_id IS 'X-Request-Id, to find the request in the logs';
