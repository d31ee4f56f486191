#!/bin/bash
# scripts/pg-cluster: peer authentication through its ident map, `orchard` a
# plain role that owns its database, and the upgrade of an old trust cluster.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
# The clusters this test makes beside the fixture's stop with it.
trap 'for d in "$TMP/old" "$TMP/home/var"; do "$ROOT/scripts/pg-cluster" stop "$d"; done; fixture_cleanup' EXIT
PG=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
q() { psql "$ORCHARD_DATABASE_URL" -XAtc "$1" 2>&1; }

# --- the role orchardd uses ---------------------------------------------------
expect_eq "orchard is not a superuser and cannot create databases or roles" "f|f|f" \
	"$(q "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user")"
expect_eq "orchard owns database orchard" orchard \
	"$(q "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'orchard'")"
expect_fail "orchard cannot run programs on the server" \
	psql "$ORCHARD_DATABASE_URL" -Xqc "COPY (SELECT 1) TO PROGRAM 'true'"
expect "migrations run as orchard" "$ORCHARDD" --database-url "$ORCHARD_DATABASE_URL" migrate
expect_eq "the admin role is a superuser" "postgres|t" \
	"$(pg_admin "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")"

# --- who may connect ------------------------------------------------------------
pg_admin "CREATE ROLE intruder LOGIN"
out=$(psql -X -h "$PGDIR/run" -U intruder -d orchard -c 'SELECT 1' 2>&1)
expect "a role the map does not give this account is refused" grep -q 'Peer authentication failed' <<<"$out"
if [[ $(id -u) -eq 0 ]]; then
	out=$(psql -X -h "$PGDIR/run" -U postgres -d orchard -c 'SELECT 1' 2>&1)
	expect "root may not log in as the superuser" grep -q 'Peer authentication failed' <<<"$out"
	out=$(runuser -u postgres -- psql -X -h "$PGDIR/run" -U orchard -d orchard -c 'SELECT 1' 2>&1)
	expect "the cluster's account may not log in as orchard" grep -q 'Peer authentication failed' <<<"$out"
	expect_fail "an unmapped account (nobody) cannot connect" \
		runuser -u nobody -- psql -X -h "$PGDIR/run" -U orchard -d orchard -c 'SELECT 1'
fi
if [[ $(id -u) -eq 0 ]]; then
	# A checkout in root's home (mode 700): postgres gets passage, no more.
	mkdir -p "$TMP/home/var"
	chmod 700 "$TMP/home"
	expect "a cluster under a folder only root may enter starts" "$ROOT/scripts/pg-cluster" start "$TMP/home/var" --fast
	acl=$(getfacl -cp "$TMP/home" 2>/dev/null | grep -v -e '^mask' -e '^$' | tr '\n' ' ')
	expect_eq "that folder lets postgres pass (x) and nobody else in" \
		"user::rwx user:postgres:--x group::--- other::--- " "$acl"
	"$ROOT/scripts/pg-cluster" stop "$TMP/home/var"
fi
expect_fail "no line in pg_hba.conf trusts anyone" grep -q '^[^#]*trust' "$PGDIR/pg/pg_hba.conf"

# --- a cluster made by the old script (initdb --auth=trust, orchard superuser) --
old="$TMP/old"
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$old/pg" "$old/run"
touch "$old/pg.log"
[[ $(id -u) -eq 0 ]] && chown postgres: "$old/pg" "$old/run" "$old/pg.log"
chmod 700 "$old/pg"
as_pg "$PG/initdb" -D "$old/pg" -U orchard --auth=trust -E UTF8 >/dev/null 2>&1
printf "listen_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\n" "$old/run" |
	as_pg tee -a "$old/pg/postgresql.conf" >/dev/null
as_pg "$PG/pg_ctl" -D "$old/pg" -l "$old/pg.log" -w start >/dev/null
"$PG/createdb" -h "$old/run" -U orchard orchard
OLD_URL=$("$ROOT/scripts/pg-cluster" url "$old")
"$ORCHARDD" --database-url "$OLD_URL" migrate 2>/dev/null
psql "$OLD_URL" -Xqc "INSERT INTO audit_log (subject, jti, method, path, status, request_id)
	VALUES ('kept', 'j', 'GET', '/', 200, 'r')"
as_pg "$PG/pg_ctl" -D "$old/pg" -m fast -w stop >/dev/null
expect "pg-cluster start upgrades the old cluster" "$ROOT/scripts/pg-cluster" start "$old"
expect_eq "its data is still there" kept "$(psql "$OLD_URL" -XAtc 'SELECT subject FROM audit_log')"
expect_eq "orchard is no longer a superuser there" f \
	"$(psql "$OLD_URL" -XAtc 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')"
expect_eq "and owns every table" 0 \
	"$(psql "$OLD_URL" -XAtc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'orchard'")"
expect "orchardd migrates it as before" "$ORCHARDD" --database-url "$OLD_URL" migrate
expect_fail "the old cluster is gone" test -e "$old/pg.trust-old"
"$ROOT/scripts/pg-cluster" stop "$old"

tap_done
