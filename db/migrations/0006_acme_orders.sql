-- ACME orders, authorizations and challenges (RFC 8555 sections 7.1.3-7.1.6,
-- 7.4-7.5), and the operator's external account binding keys (7.3.4).
-- An order's pending/ready/invalid follows from its authorizations and
-- clock, so acme_order_state() computes it on read; only what finalize
-- decides (processing, valid, invalid) is stored.
CREATE TABLE acme_authzs (
	id               text PRIMARY KEY,
	account_id       text NOT NULL REFERENCES acme_accounts (id),
	identifier_type  text NOT NULL CHECK (identifier_type IN ('dns', 'ip')),
	identifier_value text NOT NULL,
	wildcard         boolean NOT NULL DEFAULT false,
	status           text NOT NULL DEFAULT 'pending'
	                 CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'revoked')),
	expires_at       timestamptz NOT NULL,
	created_at       timestamptz NOT NULL DEFAULT now(),
	updated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE acme_authzs IS 'ACME authorizations: an account''s proof of control over one identifier';
COMMENT ON COLUMN acme_authzs.id IS 'random, base64url; the URL is /acme/authz/<id>';
COMMENT ON COLUMN acme_authzs.identifier_value IS 'a lowercase DNS name without the wildcard label, or a canonical IP literal';
COMMENT ON COLUMN acme_authzs.wildcard IS 'true for an order''s *.name: only dns-01 is offered';
COMMENT ON COLUMN acme_authzs.status IS 'stored state; pending or valid past expires_at reads as expired (acme_authz_state)';
COMMENT ON COLUMN acme_authzs.expires_at IS 'pending: when it lapses; valid: until when it is reused for new orders';
CREATE INDEX acme_authzs_reuse ON acme_authzs (account_id, identifier_type, identifier_value, wildcard)
	WHERE status = 'valid';
CREATE INDEX acme_authzs_pending ON acme_authzs (account_id) WHERE status = 'pending';

CREATE TABLE acme_challenges (
	id           text PRIMARY KEY,
	authz_id     text NOT NULL REFERENCES acme_authzs (id),
	type         text NOT NULL,
	token        text NOT NULL,
	status       text NOT NULL DEFAULT 'pending'
	             CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
	validated_at timestamptz,
	error        jsonb,
	updated_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (authz_id, type)
);
COMMENT ON TABLE acme_challenges IS 'the ways offered to prove an authorization: one row per type';
COMMENT ON COLUMN acme_challenges.token IS 'random, base64url, 128 bits: the key authorization is token.thumbprint';
COMMENT ON COLUMN acme_challenges.status IS 'processing while a background validation runs; a processing row older than a minute may be started again (a crashed validator)';
COMMENT ON COLUMN acme_challenges.error IS 'the RFC 8555 problem document of a failed validation';

CREATE TABLE acme_orders (
	id          text PRIMARY KEY,
	account_id  text NOT NULL REFERENCES acme_accounts (id),
	status      text NOT NULL DEFAULT 'pending'
	            CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
	identifiers jsonb NOT NULL,
	authz_ids   text[] NOT NULL,
	profile     text,
	error       jsonb,
	expires_at  timestamptz NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE acme_orders IS 'ACME orders: identifiers an account wants a certificate for';
COMMENT ON COLUMN acme_orders.status IS 'pending until finalize sets processing, then valid or invalid; the state served is acme_order_state()';
COMMENT ON COLUMN acme_orders.identifiers IS 'JSON array of {type, value} as the client sent them (canonical, deduplicated)';
COMMENT ON COLUMN acme_orders.authz_ids IS 'the order''s authorizations, in identifier order';
COMMENT ON COLUMN acme_orders.profile IS 'certificate profile named on newOrder, or NULL for the default';
CREATE INDEX acme_orders_account ON acme_orders (account_id, created_at);

CREATE FUNCTION acme_authz_state(status text, expires_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN status IN ('pending', 'valid') AND expires_at <= now() THEN 'expired'
	            ELSE status END
$$;
COMMENT ON FUNCTION acme_authz_state IS 'RFC 8555 7.1.6: an authorization''s state, expiry included';

CREATE FUNCTION acme_order_state(status text, expires_at timestamptz, authz_ids text[]) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN status <> 'pending' THEN status
		WHEN expires_at <= now() THEN 'invalid'
		ELSE (SELECT CASE
			WHEN bool_or(acme_authz_state(a.status, a.expires_at) NOT IN ('pending', 'valid')) THEN 'invalid'
			WHEN bool_and(acme_authz_state(a.status, a.expires_at) = 'valid') THEN 'ready'
			ELSE 'pending' END
		      FROM acme_authzs a WHERE a.id = ANY (authz_ids))
	END
$$;
COMMENT ON FUNCTION acme_order_state IS 'RFC 8555 7.1.6: pending until every authorization is valid (ready), invalid when one fails, expires or is deactivated, or the order expires';

CREATE TABLE acme_eab_keys (
	kid        text PRIMARY KEY,
	hmac_key   text NOT NULL,
	created_by text,
	created_at timestamptz NOT NULL DEFAULT now(),
	used_at    timestamptz,
	account_id text REFERENCES acme_accounts (id)
);
COMMENT ON TABLE acme_eab_keys IS 'external account binding keys (RFC 8555 7.3.4) an operator created; each binds one account';
COMMENT ON COLUMN acme_eab_keys.hmac_key IS 'the HS256 key, base64url; shown to the operator once';
COMMENT ON COLUMN acme_eab_keys.used_at IS 'when an account was bound with it: the key is then spent';
