-- The depot's compiled forms (docs/depot.md): each published module
-- compiled ahead of time per device target by orchard-wasm, signed with
-- the depot's own Ed25519 key over a statement that binds the module's
-- digest, the target, the compiler and the compiled form's digest.
CREATE TABLE depot_compiled (
	module_sha256 text NOT NULL REFERENCES depot_modules (sha256),
	target text NOT NULL CHECK (target ~ '^[A-Za-z0-9._-]{1,64}$'),
	state text NOT NULL CHECK (state IN ('compiling', 'ready', 'failed')),
	compiler text,
	cwasm_sha256 text CHECK (cwasm_sha256 ~ '^[0-9a-f]{64}$'),
	size bigint CHECK (size >= 0),
	data bytea,
	statement text,
	signature bytea CHECK (length(signature) = 64),
	key_id text,
	error text,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (module_sha256, target),
	CHECK (state <> 'ready' OR (data IS NOT NULL AND statement IS NOT NULL AND signature IS NOT NULL
		AND length(data) = size))
);
ALTER TABLE depot_compiled ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE depot_compiled IS 'compiled forms (.cwasm) of depot modules per target: compiling, ready (signed) or failed (error says why); content-addressed like the modules, so packages sharing a module share them';
COMMENT ON COLUMN depot_compiled.target IS 'the target triple the .cwasm header names (host: the compiler''s own)';
COMMENT ON COLUMN depot_compiled.compiler IS 'the .cwasm header''s toolchain lines (wabt, abi, cc, flags), as the statement binds them';
COMMENT ON COLUMN depot_compiled.statement IS 'the signed statement: canonical JSON {compiler, cwasm, module, target, type}';
COMMENT ON COLUMN depot_compiled.signature IS 'Ed25519 signature over statement by the depot key key_id';
COMMENT ON COLUMN depot_compiled.error IS 'why the compilation failed (the compiler''s first error line), for the operator';
