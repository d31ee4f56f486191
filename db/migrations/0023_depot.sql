-- The depot (docs/depot.md): publishers and the history of their Ed25519
-- keys, content-addressed WASM modules, and immutable signed packages
-- {publisher}/pkg/{name}/{version}.
CREATE TABLE depot_publishers (
	name text PRIMARY KEY,
	public_key text NOT NULL,
	key_id text NOT NULL CHECK (key_id ~ '^[0-9a-f]{64}$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE depot_publishers IS 'PUT /depot/publishers/{name}: who may publish packages under {name}; a PUT on an existing publisher rotates its key for later publications';
COMMENT ON COLUMN depot_publishers.public_key IS 'the current Ed25519 public key, PEM (SubjectPublicKeyInfo), as OpenSSL re-encodes it';
COMMENT ON COLUMN depot_publishers.key_id IS 'hex SHA-256 of the current key''s SubjectPublicKeyInfo DER';

CREATE TABLE depot_publisher_keys (
	publisher text NOT NULL REFERENCES depot_publishers (name),
	key_id text NOT NULL CHECK (key_id ~ '^[0-9a-f]{64}$'),
	public_key text NOT NULL,
	added_at timestamptz NOT NULL DEFAULT now(),
	retired_at timestamptz,
	PRIMARY KEY (publisher, key_id)
);
COMMENT ON TABLE depot_publisher_keys IS 'every key a publisher has had: a package keeps naming the key that signed it, so a rotation leaves older publications verifiable';
COMMENT ON COLUMN depot_publisher_keys.retired_at IS 'when a rotation replaced this key; NULL for the current key';

CREATE TABLE depot_modules (
	sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	size bigint NOT NULL CHECK (size >= 0),
	data bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (length(data) = size)
);
-- Uncompressed out-of-line storage: substring() for a Range reads only the
-- chunks it needs (WASM modules compress little anyway).
ALTER TABLE depot_modules ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE depot_modules IS 'module bytes (app.wasm) addressed by their SHA-256: packages naming the same digest share one row';
COMMENT ON COLUMN depot_modules.data IS 'the module, in PostgreSQL so every orchardd on the database serves it and a backup holds it; STORAGE EXTERNAL for ranged reads';

CREATE TABLE depot_packages (
	publisher text NOT NULL,
	name text NOT NULL,
	version text NOT NULL,
	manifest text NOT NULL,
	signature bytea NOT NULL CHECK (length(signature) = 64),
	key_id text NOT NULL,
	module_sha256 text NOT NULL,
	size bigint NOT NULL,
	yanked boolean NOT NULL DEFAULT false,
	yanked_at timestamptz,
	published_by text,
	published_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (publisher, name, version),
	FOREIGN KEY (publisher, key_id) REFERENCES depot_publisher_keys (publisher, key_id),
	-- deferred: publishing inserts the package first, so an existing
	-- version is refused before a module's bytes are written
	FOREIGN KEY (module_sha256) REFERENCES depot_modules (sha256) DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE depot_packages IS 'published packages, immutable but for the yanked flag (a trigger refuses any other change)';
COMMENT ON COLUMN depot_packages.manifest IS 'the manifest''s canonical form (RFC 8785 subset, docs/depot.md): the exact bytes signed';
COMMENT ON COLUMN depot_packages.signature IS 'Ed25519 signature over manifest by the key key_id';
COMMENT ON COLUMN depot_packages.key_id IS 'the publisher key that signed it (depot_publisher_keys)';
COMMENT ON COLUMN depot_packages.module_sha256 IS 'the module the manifest pins';
COMMENT ON COLUMN depot_packages.size IS 'the module''s size in bytes';
COMMENT ON COLUMN depot_packages.yanked IS 'devices running it may still download it; new desired state may not name it';
COMMENT ON COLUMN depot_packages.published_by IS 'the operator token (jti) that published it';

CREATE FUNCTION depot_packages_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' OR (NEW.publisher, NEW.name, NEW.version, NEW.manifest, NEW.signature,
	    NEW.key_id, NEW.module_sha256, NEW.size, NEW.published_by, NEW.published_at)
	    IS DISTINCT FROM (OLD.publisher, OLD.name, OLD.version, OLD.manifest, OLD.signature,
	    OLD.key_id, OLD.module_sha256, OLD.size, OLD.published_by, OLD.published_at) THEN
		RAISE EXCEPTION 'depot packages are immutable (only yanked may change)';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER depot_packages_immutable BEFORE UPDATE OR DELETE ON depot_packages
	FOR EACH ROW EXECUTE FUNCTION depot_packages_immutable();
