# The twin benches' fixture (sourced by bench/twins.sh and
# bench/twin_waiters.sh after tests/lib/orchardd.sh, with TWINS set): two
# orchardd on one PostgreSQL (B: URL2/OPID2, A: URL/OPID, which takes
# BENCH_ORCHARDD_ARGS), an operator TOKEN, a symmetric-key group (its key
# in GK) and TWINS twins bench-0.. registered through it.
pg_start --durable >/dev/null
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
