#!/bin/bash
# README's "Backup and restore", as written there: pg_dump and the keys'
# archive while orchardd runs, then pg_restore --clean over a newer state,
# and again into an empty database after losing the data folder.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
J=(-H 'Content-Type: application/json')
psql_q() { psql "$ORCHARD_DATABASE_URL" -Atc "$1"; }
desired_v() { http GET "/twins/$1" -H "Authorization: Bearer $2" && jq -r .properties.desired.v <<<"$BODY"; }
B=$TMP/backup
mkdir -p "$B"
backup() { # README's block, with var/ being this test's
	(cd "$B" && umask 077 &&
		pg_dump -Fc -f orchard.dump "$ORCHARD_DATABASE_URL" &&
		tar -C "$TMP/var" -czf orchard-keys.tgz pki keys)
}
restore() {
	tar -C "$TMP/var" -xzf "$B/orchard-keys.tgz" &&
		pg_restore --clean --if-exists --no-owner -d "$ORCHARD_DATABASE_URL" "$B/orchard.dump"
}

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
OLD=$(token twins:read twins:write tokens:read)
http PATCH /twins/bk-1 -H "Authorization: Bearer $OLD" "${J[@]}" -d '{"properties":{"desired":{"v":1}}}'
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/d.key" \
	-subj /CN=bk -out "$TMP/d.csr" 2>/dev/null
"$ORCHARDD" --data-dir "$TMP/var" cert issue --csr "$TMP/d.csr" --out "$TMP/d.pem" --profile device-client \
	--san permanent-identifier:bk-1 >/dev/null 2>&1
SERIAL=$(openssl x509 -in "$TMP/d.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
ROOT_SUM=$(sha256sum <"$TMP/var/pki/root.pem")

expect "the backup runs while orchardd serves" backup
expect_eq "the keys' archive is readable by its owner only" 600 "$(stat -c %a "$B/orchard-keys.tgz")"
expect "... and holds the CA's and the token key" \
	bash -c "tar -tzf '$B/orchard-keys.tgz' | grep -q '^pki/root.pem$' && tar -tzf '$B/orchard-keys.tgz' | grep -q '^keys/operator-jwt.pem$'"

# After the backup: a newer desired, a new twin, a new token.
NEW=$(token twins:read tokens:read)
http PATCH /twins/bk-1 -H "Authorization: Bearer $OLD" "${J[@]}" -d '{"properties":{"desired":{"v":2}}}'
http PATCH /twins/bk-2 -H "Authorization: Bearer $OLD" "${J[@]}" -d '{"tags":{"after":"backup"}}'
expect_eq "(after the backup: desired v 2)" 2 "$(desired_v bk-1 "$OLD")"
orchardd_stop

# --- 1. over the newer state (--clean) ------------------------------------------
expect "restore over the newer state" restore
orchardd_start || { tap_nok "orchardd starts on the restored database"; tap_done; exit 1; }
expect_eq "the twin is as it was at the backup" 1 "$(desired_v bk-1 "$OLD")"
http GET /twins/bk-2 -H "Authorization: Bearer $OLD"
expect_eq "a twin made after the backup is gone" 404 "$STATUS"
http GET "/pki/certificates/$SERIAL" -H "Authorization: Bearer $(token pki:admin)"
expect_eq "the certificate issued before the backup is on record" 200 "$STATUS"
# README: a token minted after the backup still verifies (the same key) but
# is no longer on record, so it cannot be revoked by its jti.
http GET "/ops/tokens/$(token_jti "$NEW")" -H "Authorization: Bearer $NEW"
expect_eq "a token minted after the backup verifies but is not on record" 404 "$STATUS"
expect_eq "the database holds one row per migration, none twice" 0 \
	"$(psql_q "SELECT count(*) - count(DISTINCT version) FROM schema_migrations")"
orchardd_stop

# --- 2. the data folder and the database lost --------------------------------------
rm -rf "$TMP/var"
mkdir -p "$TMP/var"
"$ROOT/scripts/pg-cluster" admin "$TMP/db" -d postgres -qAt -v ON_ERROR_STOP=1 \
	-c "DROP DATABASE orchard" -c "CREATE DATABASE orchard OWNER orchard"
expect_eq "(the database dropped and made again: no tables)" 0 "$(psql_q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
expect "restore into an empty database and data folder" restore
orchardd_start || { tap_nok "orchardd starts after losing everything"; tap_done; exit 1; }
expect_eq "the same root CA" "$ROOT_SUM" "$(sha256sum <"$TMP/var/pki/root.pem")"
expect_eq "a token from before the backup works" 1 "$(desired_v bk-1 "$OLD")"
openssl verify -CAfile "$TMP/var/pki/root.pem" -untrusted "$TMP/d.pem" "$TMP/d.pem" >/dev/null 2>&1
expect_eq "a certificate from before the backup chains to it" 0 "$?"

# --- 3. the advice for tokens minted after the backup: a new token key -----------
orchardd_stop
rm "$TMP/var/keys/operator-jwt.pem"
orchardd_start || { tap_nok "orchardd starts with a new token key"; tap_done; exit 1; }
http GET /twins/bk-1 -H "Authorization: Bearer $NEW"
expect_eq "with a new token key, the unlisted token is refused" 401 "$STATUS"
http GET /twins/bk-1 -H "Authorization: Bearer $(token twins:read)"
expect_eq "... and a token issued now works" 200 "$STATUS"
orchardd_stop
expect_eq "orchardd exits 0" 0 "$?"
tap_done
