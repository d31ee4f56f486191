#!/bin/bash
# DPS registrations end to end: bench/dps_load registers BENCH_DPS_DEVICES
# (default 20,000) symmetric-key devices of one enrollment group (keys
# derived from the group key) over 16 keep-alive TLS connections (orchardd
# has 8 worker threads on 2 cores; BENCH_DPS_CONNECTIONS) against
# orchardd on a durable PostgreSQL (fsync and synchronous_commit on: every
# registration is a committed transaction), and prints registrations/s
# with p50/p99. Azure DPS publishes 1,000 registrations per minute per unit.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
N=${BENCH_DPS_DEVICES:-20000}
C=${BENCH_DPS_CONNECTIONS:-16}

# A durable cluster: no --fast.
"$ROOT/scripts/pg-cluster" start "$TMP/db" >&2 || exit 1
export PGDIR="$TMP/db"
export ORCHARD_DATABASE_URL=$("$ROOT/scripts/pg-cluster" url "$TMP/db")
# BENCH_DPS_PG="commit_delay=200 commit_siblings=4": settings to try (ALTER SYSTEM)
for kv in ${BENCH_DPS_PG:-}; do pg_admin "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" || exit 1; done
[[ -n "${BENCH_DPS_PG:-}" ]] && pg_admin "SELECT pg_reload_conf()" >/dev/null
printf 'PostgreSQL: fsync=%s synchronous_commit=%s commit_delay=%s\n' "$(pg_admin 'SHOW fsync')" \
	"$(pg_admin 'SHOW synchronous_commit')" "$(pg_admin 'SHOW commit_delay')"
orchardd_start || exit 1
SCOPE=$(pg_admin "SELECT value FROM dps_settings WHERE name = 'id_scope'")
GK=$(head -c 32 /dev/urandom | base64 -w0)
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token enrollments:write)" \
	-H 'Content-Type: application/json' "$URL/enrollmentGroups/bench?api-version=2021-10-01" \
	-d '{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"'"$GK"'"}},
	     "initialTwin":{"tags":{"fleet":"bench"},"properties":{"desired":{"app":"blink"}}}}')
[[ "$code" == 200 ]] || { echo "enrollment group: HTTP $code"; exit 1; }
LOAD=("$ROOT/$BUILD/bench/dps_load" --port "$PORT" --cacert "$TMP/var/pki/root.pem" --scope "$SCOPE" --group-key "$GK")
"${LOAD[@]}" --devices 1000 --connections "$C" --prefix warm >/dev/null || { echo "warm-up failed"; exit 1; }
wal() { pg_admin "SELECT wal_records || ' ' || wal_fpi || ' ' || wal_bytes || ' ' || wal_sync || ' ' || (SELECT xact_commit FROM pg_stat_database WHERE datname = 'orchard') FROM pg_stat_wal"; }
read -r r0 f0 b0 s0 x0 <<<"$(wal)"
echo -n "new devices:        "
"${LOAD[@]}" --devices "$N" --connections "$C" --prefix dev || exit 1
read -r r1 f1 b1 s1 x1 <<<"$(wal)"
printf '  a new device: %.1f WAL records, %.2f full pages, %.0f WAL bytes, %.2f WAL syncs, %.2f commits\n' \
	"$(bc -l <<<"($r1 - $r0) / $N")" "$(bc -l <<<"($f1 - $f0) / $N")" "$(bc -l <<<"($b1 - $b0) / $N")" \
	"$(bc -l <<<"($s1 - $s0) / $N")" "$(bc -l <<<"($x1 - $x0) / $N")"
echo -n "registering again:  "
"${LOAD[@]}" --devices "$N" --connections "$C" --prefix dev || exit 1
printf 'devices in the database: %s (twins: %s)\n' "$(pg_admin 'SELECT count(*) FROM dps_registrations')" \
	"$(pg_admin 'SELECT count(*) FROM twins')"
# The ceiling on this machine at this moment: pgbench committing one
# small INSERT a transaction on the same durable PostgreSQL, 32 clients.
if command -v pgbench >/dev/null; then
	pg_admin "CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial PRIMARY KEY, v text)" &&
		pg_admin "GRANT ALL ON bench_ceiling, bench_ceiling_id_seq TO orchard" || exit 1
	echo "INSERT INTO bench_ceiling (v) VALUES ('x');" >"$TMP/ceiling.sql"
	printf 'ceiling: pgbench, one INSERT a transaction, 32 clients: %s commits/s\n' \
		"$(pgbench -n -c32 -j2 -T5 -f "$TMP/ceiling.sql" "$ORCHARD_DATABASE_URL" 2>/dev/null | awk '/^tps/ {print int($3); exit}')"
fi
echo "Azure DPS: 1,000 registrations per minute per unit (about 17/s)"
