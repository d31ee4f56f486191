#!/bin/bash
# Devices waiting on their twins, alone (bench/twins.sh runs the same rounds
# after its throughput runs): memory per waiting device and the desired PATCH
# on B -> device on A latency. BENCH_ORCHARDD_ARGS go to instance A;
# BENCH_TWIN_READ_FIRST=1 makes each device read its twin before it waits.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
OPID2=
trap 'kill $OPID2 2>/dev/null; fixture_cleanup' EXIT
TWINS=${BENCH_TWINS:-10000}
WAITERS=${BENCH_TWIN_WAITERS:-1000,10000}
SAMPLE=${BENCH_TWIN_SAMPLE:-200}
ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pg_start >/dev/null
orchardd_start || exit 1
OPID2=$OPID URL2=$URL
# shellcheck disable=SC2086
orchardd_start ${BENCH_ORCHARDD_ARGS:-} || exit 1
TOKEN=$(token all)
psql_q() { psql "$ORCHARD_DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# --- 10,000 twins, each a device registered through one symmetric-key group ---
GK=$("${CURL[@]}" -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d '{"attestation":{"type":"symmetricKey"}}' "$URL/enrollmentGroups/bench?api-version=2021-10-01" |
	jq -r .attestation.symmetricKey.primaryKey)
[[ -n "$GK" && "$GK" != null ]] || { echo "cannot create the group" >&2; exit 1; }
META='"$metadata":{"$lastUpdated":"2026-12-01T00:00:00.0000000Z"'
psql_q "INSERT INTO twins (device_id, etag, desired, reported)
	SELECT 'bench-' || i, substr(md5(i::text), 1, 12),
	       '{$META,\"\$lastUpdatedVersion\":1},\"\$version\":1}', '{$META},\"\$version\":1}'
	FROM generate_series(0, $TWINS - 1) i;
	INSERT INTO dps_registrations (registration_id, device_id, enrollment_kind, enrollment_id,
	                               status, operation_id, etag)
	SELECT 'bench-' || i, 'bench-' || i, 'group', 'bench', 'assigned', md5(i::text), md5(i::text)
	FROM generate_series(0, $TWINS - 1) i; ANALYZE twins, dps_registrations" || exit 1
sleep 1

# --- round trips to PostgreSQL per desired PATCH: statements logged over 50 ----
python3 bench/twin_waiters.py "$URL" "$URL2" "$OPID" "$TOKEN" "$TMP/var/pki/root.pem" "$GK" \
	"$WAITERS" "$SAMPLE" || exit 1
