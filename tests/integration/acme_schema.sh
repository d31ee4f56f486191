#!/bin/bash
# The ACME tables' value rules after migration 0019 (CHECK constraints moved
# to domains, docs/acme.md "Storage"): the migration runs on a database
# that already holds rows (0001-0018 applied first, rows written, then
# 0019), keeps them, and every rule still refuses a bad value (SQLSTATE
# 23514) and leaves the row as it was. 0021 (the serial rule without a
# regular expression) runs after it and refuses the same serials.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
pg_start || exit 1
psql_f() { "$ROOT/scripts/pg-cluster" admin "$TMP/db" -qAt -v ON_ERROR_STOP=1 -f "$1"; }
# sqlstate SQL: the SQLSTATE SQL fails with, or "ok"
sqlstate() {
	"$ROOT/scripts/pg-cluster" admin "$TMP/db" -qAt -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate \
		-c "$1" 2>&1 >/dev/null | grep -o '[0-9][0-9A-Z]\{4\}' | head -1 | grep . || echo ok
}

ok=1
for f in db/migrations/[0-9][0-9][0-9][0-9]_*.sql; do
	[[ ${f#db/migrations/} < 0019 ]] || continue
	psql_f "$f" >/dev/null || { ok=0; break; }; done
[[ $ok == 1 ]] && tap_ok "migrations 0001-0018 applied" || tap_nok "migrations 0001-0018 applied"
pg_admin "INSERT INTO acme_accounts (id, key_thumbprint, jwk) VALUES ('acc1', 'tp1', '{}');
	INSERT INTO certificates (serial, sans, key_type, profile, not_before, not_after, der)
	VALUES ('0123456789abcdef0123456789abcdef', 'DNS:a.test', 'p256', 'tls-server', now(), now() + interval '1 day', '\x00');
	INSERT INTO acme_authzs (id, account_id, identifier_type, identifier_value, expires_at)
	VALUES ('az1', 'acc1', 'dns', 'a.test', now() + interval '1 day');
	INSERT INTO acme_challenges (id, authz_id, type, token) VALUES ('ch1', 'az1', 'http-01', 'tok');
	INSERT INTO acme_orders (id, account_id, identifiers, authz_ids, expires_at, certificate_serial)
	VALUES ('o1', 'acc1', '[]', '{az1}', now() + interval '1 day', '0123456789abcdef0123456789abcdef')" >/dev/null
expect "0019 runs on a database with rows" psql_f db/migrations/0019_acme_domains.sql
# 0021 replaces the serial domain's regular expression (checked below).
expect "0020 and 0021 run on it too" psql_f db/migrations/0020_certificates_acme_order_index.sql \
	-f db/migrations/0021_certificate_serial_check.sql
# 0022: the ACME ids in byte order (COLLATE "C"), on the same rows.
pg_admin "INSERT INTO acme_nonces (nonce, expires_at) VALUES ('n1', now() + interval '1 hour')" >/dev/null
expect "0022 runs on it too" psql_f db/migrations/0022_acme_ids_collate_c.sql
expect_eq "0022: the id columns compare in byte order" \
	"acme_accounts.id acme_authzs.account_id acme_authzs.id acme_authzs.identifier_type acme_authzs.identifier_value acme_challenges.authz_id acme_challenges.id acme_challenges.type acme_eab_keys.account_id acme_nonces.nonce acme_orders.account_id acme_orders.authz_ids acme_orders.id" \
	"$(pg_admin "SELECT string_agg(c.relname || '.' || a.attname, ' ' ORDER BY c.relname || '.' || a.attname)
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relkind = 'r' AND c.relname LIKE 'acme%'
	AND a.attcollation = 'pg_catalog.\"C\"'::regcollation AND a.attnum > 0")"
expect_eq "0022: their nine indexes too, all valid" "0|9" "$(pg_admin "SELECT count(*) FILTER (WHERE NOT indisvalid),
	count(*) FILTER (WHERE indcollation::oid[] @> ARRAY['pg_catalog.\"C\"'::regcollation::oid]) FROM pg_index
	WHERE indrelid::regclass::text LIKE 'acme%'")"
expect_eq "0022: the ids join across the tables and with authz_ids (no collation conflict)" "o1|az1|ch1|acc1|n1" \
	"$(pg_admin "SELECT o.id, a.id, c.id, ac.id, (SELECT nonce FROM acme_nonces WHERE nonce = 'n1')
	FROM acme_orders o, unnest(o.authz_ids) u (id) JOIN acme_authzs a ON a.id = u.id
	JOIN acme_challenges c ON c.authz_id = a.id JOIN acme_accounts ac ON ac.id = a.account_id
	WHERE ac.id = o.account_id")"
expect_eq "0022: foreign keys still refused (an unknown authorization, an unknown account)" "23503 23503" \
	"$(sqlstate "INSERT INTO acme_challenges (id, authz_id, type, token) VALUES ('ch9', 'az9', 'dns-01', 't')") $(sqlstate \
	"INSERT INTO acme_orders (id, account_id, identifiers, authz_ids, expires_at) VALUES ('o9', 'acc9', '[]', '{}', now())")"
expect_eq "0022: unique keys still refused (a nonce twice, a challenge type twice for one authorization)" "23505 23505" \
	"$(sqlstate "INSERT INTO acme_nonces (nonce, expires_at) VALUES ('n1', now())") $(sqlstate \
	"INSERT INTO acme_challenges (id, authz_id, type, token) VALUES ('ch3', 'az1', 'http-01', 't')")"
expect_eq "0022: an account still not deleted under its authorization" 23503 "$(sqlstate "DELETE FROM acme_accounts")"
expect_eq "0022: nothing written by the refused statements" "1|1|1|1|1" "$(pg_admin "SELECT (SELECT count(*) FROM acme_nonces),
	(SELECT count(*) FROM acme_challenges), (SELECT count(*) FROM acme_orders), (SELECT count(*) FROM acme_accounts),
	(SELECT count(*) FROM acme_authzs)")"
expect_eq "the rows are kept" "pending|pending|pending|dns|0123456789abcdef0123456789abcdef" \
	"$(pg_admin "SELECT a.status, c.status, o.status, a.identifier_type, o.certificate_serial
	FROM acme_authzs a, acme_challenges c, acme_orders o")"
expect_eq "no table CHECK left on the four tables but certificates' revoked pair" "certificates_check" \
	"$(pg_admin "SELECT string_agg(conname, ',') FROM pg_constraint WHERE contype = 'c'
	AND conrelid IN ('acme_authzs'::regclass, 'acme_challenges'::regclass, 'acme_orders'::regclass, 'certificates'::regclass)")"

# Each bad value is refused with check_violation; each good one accepted.
bad() { expect_eq "refused: $1" 23514 "$(sqlstate "$2")"; }
bad "authz status" "UPDATE acme_authzs SET status = 'ready' WHERE id = 'az1'"
bad "authz identifier type" "INSERT INTO acme_authzs (id, account_id, identifier_type, identifier_value, expires_at)
	VALUES ('az2', 'acc1', 'email', 'x', now())"
bad "challenge status" "UPDATE acme_challenges SET status = 'done' WHERE id = 'ch1'"
bad "challenge status on insert" "INSERT INTO acme_challenges (id, authz_id, type, token, status)
	VALUES ('ch2', 'az1', 'dns-01', 't', 'bogus')"
bad "order status" "UPDATE acme_orders SET status = 'ready' WHERE id = 'o1'"
bad "certificate serial" "INSERT INTO certificates (serial, sans, key_type, profile, not_before, not_after, der)
	VALUES ('0123456789ABCDEF0123456789ABCDEF', 'DNS:a.test', 'p256', 'tls-server', now(), now(), '\x00')"
# The serial rule (0021: length and ltrim, no regular expression) refuses
# what ^[0-9a-f]{32}$ refused, on insert and on update.
for v in '' 0123456789abcdef 0123456789abcdef0123456789abcde 0123456789abcdef0123456789abcdef0 \
	0123456789abcdef0123456789abcdeg ' 123456789abcdef0123456789abcdef' 0123456789abcdef0123456789abcde- \
	0123456789abcdef0123456789abcdeé; do
	bad "certificate serial '$v'" "UPDATE certificates SET serial = '$v'"
done
bad "certificate serial with a newline" "UPDATE certificates SET serial = E'0123456789abcdef0123456789abcde\\n'"
bad "revocation reason 7" "UPDATE certificates SET revoked_at = now(), revocation_reason = 7"
bad "revocation reason 11" "UPDATE certificates SET revoked_at = now(), revocation_reason = 11"
bad "revoked without a reason (the table CHECK kept)" "UPDATE certificates SET revoked_at = now()"
expect_eq "nothing changed by the refused writes" "pending|pending|pending|1|2|1|||0123456789abcdef0123456789abcdef" \
	"$(pg_admin "SELECT a.status, c.status, o.status, (SELECT count(*) FROM acme_authzs),
	(SELECT count(*) FROM certificates) + 1, (SELECT count(*) FROM acme_challenges),
	(SELECT revoked_at FROM certificates), (SELECT revocation_reason FROM certificates),
	(SELECT serial FROM certificates)
	FROM acme_authzs a, acme_challenges c, acme_orders o")"
expect_eq "a good serial accepted" ok "$(sqlstate "INSERT INTO certificates (serial, sans, key_type, profile,
	not_before, not_after, der) VALUES ('abcdef0123456789abcdef0123456789', 'DNS:b.test', 'p256', 'tls-server', now(), now(), '\x00')")"
expect_eq "good values accepted" "ok ok ok ok" "$(sqlstate "UPDATE acme_authzs SET status = 'valid'") $(sqlstate \
	"UPDATE acme_challenges SET status = 'processing'") $(sqlstate "UPDATE acme_orders SET status = 'valid'") $(sqlstate \
	"UPDATE certificates SET revoked_at = now(), revocation_reason = 1")"
tap_done
