-- The ACME ids and the identifier values compared in byte order (COLLATE
-- "C"). The cluster's C.UTF-8 orders UTF-8 text by code point, which is
-- byte order, but PostgreSQL 15 takes its fast path only for a collation
-- named C or POSIX: any other copies both strings and calls strcoll() for
-- every comparison in a B-tree descent, and every ACME request descends a
-- dozen of these indexes (its nonce, its account, the foreign-key checks,
-- each insert). Equality is the same (both collations are deterministic), and
-- so is the order for UTF-8 under C.UTF-8; under another database collation
-- only the order of these random ids and names changes, which nothing
-- relies on. The columns compared with one another change together (a
-- comparison between two different implicit collations is an error):
-- account ids, authorization ids (with acme_orders.authz_ids), challenge
-- and order ids. certificates.serial, acme_orders.certificate_serial and
-- replaces keep the database's collation (the attestation tables join
-- them). No table is rewritten; each index on these columns is rebuilt.
ALTER TABLE acme_nonces ALTER COLUMN nonce TYPE text COLLATE "C";
ALTER TABLE acme_accounts ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE acme_eab_keys ALTER COLUMN account_id TYPE text COLLATE "C";
ALTER TABLE acme_authzs
	ALTER COLUMN id TYPE text COLLATE "C",
	ALTER COLUMN account_id TYPE text COLLATE "C",
	ALTER COLUMN identifier_type TYPE acme_identifier_type COLLATE "C",
	ALTER COLUMN identifier_value TYPE text COLLATE "C";
ALTER TABLE acme_challenges
	ALTER COLUMN id TYPE text COLLATE "C",
	ALTER COLUMN authz_id TYPE text COLLATE "C",
	ALTER COLUMN type TYPE text COLLATE "C";
ALTER TABLE acme_orders
	ALTER COLUMN id TYPE text COLLATE "C",
	ALTER COLUMN account_id TYPE text COLLATE "C",
	ALTER COLUMN authz_ids TYPE text[] COLLATE "C";
