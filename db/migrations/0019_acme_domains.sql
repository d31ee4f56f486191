-- The ACME write path's value checks as domains (docs/acme.md, "Storage"):
-- PostgreSQL 15 prepares a table's CHECK constraints again for every
-- statement that writes the table (ExecRelCheck: stringToNode of the stored
-- expression, then the planner's expression pass), about 45 K instructions
-- a constraint; an issuance wrote twelve of them. A domain's CHECK is read
-- once per backend (the type cache) and only evaluated where a value is
-- coerced to the column's type. The same rules hold on the same columns;
-- what is not a single column's rule (certificates' revoked_at with its
-- reason) stays a table CHECK. Each column becomes the domain without a
-- check first (no table rewrite: same base type), then the domain gets the
-- check, which PostgreSQL validates against every existing row.
CREATE DOMAIN acme_authz_status AS text;
CREATE DOMAIN acme_identifier_type AS text;
CREATE DOMAIN acme_challenge_status AS text;
CREATE DOMAIN acme_order_status AS text;
CREATE DOMAIN certificate_serial AS text;
CREATE DOMAIN revocation_reason AS smallint;
ALTER TABLE acme_authzs
	ALTER COLUMN status TYPE acme_authz_status,
	ALTER COLUMN identifier_type TYPE acme_identifier_type,
	DROP CONSTRAINT acme_authzs_status_check,
	DROP CONSTRAINT acme_authzs_identifier_type_check;
ALTER TABLE acme_challenges
	ALTER COLUMN status TYPE acme_challenge_status,
	DROP CONSTRAINT acme_challenges_status_check;
ALTER TABLE acme_orders
	ALTER COLUMN status TYPE acme_order_status,
	DROP CONSTRAINT acme_orders_status_check;
ALTER TABLE certificates
	ALTER COLUMN serial TYPE certificate_serial,
	ALTER COLUMN revocation_reason TYPE revocation_reason,
	DROP CONSTRAINT certificates_serial_check,
	DROP CONSTRAINT certificates_revocation_reason_check;
ALTER DOMAIN acme_authz_status ADD CONSTRAINT acme_authz_status_check
	CHECK (VALUE IN ('pending', 'valid', 'invalid', 'deactivated', 'revoked'));
ALTER DOMAIN acme_identifier_type ADD CONSTRAINT acme_identifier_type_check
	CHECK (VALUE IN ('dns', 'ip', 'permanent-identifier', 'hardware-module'));
ALTER DOMAIN acme_challenge_status ADD CONSTRAINT acme_challenge_status_check
	CHECK (VALUE IN ('pending', 'processing', 'valid', 'invalid'));
ALTER DOMAIN acme_order_status ADD CONSTRAINT acme_order_status_check
	CHECK (VALUE IN ('pending', 'processing', 'valid', 'invalid'));
ALTER DOMAIN certificate_serial ADD CONSTRAINT certificate_serial_check
	CHECK (VALUE ~ '^[0-9a-f]{32}$');
ALTER DOMAIN revocation_reason ADD CONSTRAINT revocation_reason_check
	CHECK (VALUE BETWEEN 0 AND 10 AND VALUE <> 7);
