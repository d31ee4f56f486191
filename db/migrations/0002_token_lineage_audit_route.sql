-- Token lineage (which token minted which, so revoking one revokes what it
-- minted) and audit rows that name the route matched, not only the raw path.
ALTER TABLE operator_tokens ADD COLUMN issuer text REFERENCES operator_tokens (jti);
COMMENT ON COLUMN operator_tokens.issuer IS 'jti of the token that minted this one through POST /ops/tokens; NULL when issued by the orchardd token command';
CREATE INDEX operator_tokens_issuer ON operator_tokens (issuer) WHERE issuer IS NOT NULL;

ALTER TABLE audit_log ADD COLUMN route text;
ALTER TABLE audit_log ADD COLUMN params jsonb;
ALTER TABLE audit_log ADD COLUMN target text;
COMMENT ON COLUMN audit_log.path IS 'request path exactly as sent, without the query string (any case, still percent-encoded): for forensics; search by route and params';
COMMENT ON COLUMN audit_log.route IS 'pattern of the route matched, such as /ops/tokens/{jti}; NULL on rows written before migration 2';
COMMENT ON COLUMN audit_log.params IS 'the route''s captures, percent-decoded, as a JSON object: {"jti": "..."}';
COMMENT ON COLUMN audit_log.target IS 'what the request created, when it created something: the new token''s jti for POST /ops/tokens';
CREATE INDEX audit_log_target ON audit_log (target) WHERE target IS NOT NULL;
