#!/bin/bash
# Twin queries at BENCH_TWINS (default 100,000) twins: queries/s and p99
# over HTTPS (wrk, 16 keep-alive connections) for a tag equality (answered
# by the GIN jsonb_path_ops index) and a reported-property range (a scan
# in device ID order), with EXPLAIN ANALYZE of the statement orchardd
# sends for each; the time a fleet configuration over half the twins takes
# to apply; and pgbench's one-row SELECT on the same PostgreSQL as the
# ceiling.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
N=${BENCH_TWINS:-100000}
SECONDS_EACH=${BENCH_SECONDS:-10}

pg_start >/dev/null
orchardd_start || exit 1
TOKEN=$(token twins:read)
t0=$(date +%s.%N)
pg_admin "INSERT INTO twins (device_id, etag, tags, desired, reported)
SELECT 'dev-' || lpad(i::text, 6, '0'), md5(i::text),
	jsonb_build_object('building', 'b-' || (i % 1000), 'site', 's-' || (i % 10), 'ring', i % 4),
	jsonb_build_object('app', jsonb_build_object('name', 'pump', 'version', '1.' || (i % 3)),
		'\$version', 2, '\$metadata', '{}'::jsonb),
	jsonb_build_object('temp', (i % 1000) / 10.0, 'fw', '2.' || (i % 5), 'uptime', i * 7,
		'\$version', 5, '\$metadata', '{}'::jsonb)
FROM generate_series(1, $N) i; ANALYZE twins" || exit 1
printf 'seeded %d twins in %.1f s\n' "$N" "$(echo "$(date +%s.%N) - $t0" | bc)"

# wrk_query NAME QUERY: queries/s and p99 of POST /devices/query
wrk_query() {
	local lua="$TMP/q.lua" out
	jq -rn --arg q "$2" --arg t "$TOKEN" '"wrk.method = \"POST\"\nwrk.body = \([{query: $q} | tojson] | .[0] | tojson)\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer \($t)\""' >"$lua"
	"${CURL[@]}" -o "$TMP/one" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $TOKEN" -d "$(jq -cn --arg q "$2" '{query: $q}')" "$URL/devices/query" >"$TMP/code"
	out=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s "$lua" "$URL/devices/query" 2>&1)
	printf '%-28s %8s q/s   p99 %8s   (%s rows a reply, HTTP %s)\n' "$1" \
		"$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
		"$(jq length "$TMP/one")" "$(cat "$TMP/code")"
	awk '/Non-2xx/ {print "warning: " $NF " non-2xx replies"}' <<<"$out"
}

# explain NAME WHERE PARAMS...: EXPLAIN ANALYZE of the page query as orchardd builds it
explain() {
	local name=$1 where=$2 types="" i
	shift 2
	for ((i = 1; i <= $# + 1; i++)); do types+="${types:+,}text"; done
	local args="" p
	for p in "$@"; do args+="${args:+,}'${p//\'/\'\'}'"; done
	args+=",'101'"
	pg_admin "PREPARE q($types) AS SELECT device_id, etag, version, status, tags::text, desired::text, reported::text FROM twins WHERE $where ORDER BY device_id LIMIT \$$(($# + 1))::bigint;
		EXPLAIN (ANALYZE, COSTS OFF) EXECUTE q($args)" >"$TMP/plan"
	printf '%-28s %s; %s\n' "$name" "$(grep -m1 -oE '(Bitmap Index Scan on [a-z_]+|Index Scan using [a-z_]+|Seq Scan on [a-z_]+)' "$TMP/plan")" \
		"$(grep -oE 'Execution Time: [0-9.]+ ms' "$TMP/plan")"
}

echo "EXPLAIN ANALYZE at $N twins:"
explain "tags.building = 'b-42'" '((tags @> $1::jsonb AND (tags #> ARRAY[$2::text]) = $3::jsonb))' \
	'{"building":"b-42"}' building '"b-42"'
explain "reported.temp > 99.85" \
	"(COALESCE(jsonb_typeof((reported #> ARRAY[\$1::text])) IN ('number', 'string') AND jsonb_typeof((reported #> ARRAY[\$2::text])) = jsonb_typeof(\$3::jsonb) AND (reported #> ARRAY[\$4::text]) > \$5::jsonb, false))" \
	temp temp 99.85 temp 99.85

echo "POST /devices/query over HTTPS:"
wrk_query "tags.building = 'b-42'" "SELECT * FROM devices WHERE tags.building = 'b-42'"
wrk_query "... deviceId only" "SELECT deviceId FROM devices WHERE tags.building = 'b-42'"
wrk_query "reported.temp > 99.85" "SELECT deviceId FROM devices WHERE properties.reported.temp > 99.85"
wrk_query "COUNT() GROUP BY tags.site" "SELECT tags.site, COUNT() AS n FROM devices GROUP BY tags.site"

# A fleet configuration over half the twins: the PUT answers once every
# targeted twin holds its content (chunks of 500 twins a transaction).
WTOKEN=$(token twins:read twins:write)
t0=$(date +%s.%N)
code=$("${CURL[@]}" --max-time 600 -o "$TMP/cfg" -w '%{http_code}' -X PUT -H "Authorization: Bearer $WTOKEN" \
	-H 'Content-Type: application/json' "$URL/configurations/half" -d '{"priority": 1,
	"targetCondition": "tags.ring IN [0, 1]", "content": {"deviceContent": {"properties.desired.app.version": "2.0"}}}')
printf 'configuration over %s twins applied in %.1f s (HTTP %s, appliedCount %s)\n' \
	"$(jq .systemMetrics.results.targetedCount "$TMP/cfg")" "$(echo "$(date +%s.%N) - $t0" | bc)" "$code" \
	"$(jq .systemMetrics.results.appliedCount "$TMP/cfg")"

# The ceiling: pgbench's select-only one-row read on the same PostgreSQL.
if command -v pgbench >/dev/null; then
	pgbench -i -q -s 1 "$ORCHARD_DATABASE_URL" >/dev/null 2>&1
	printf 'ceiling: pgbench -S, 16 clients: %s tps\n' \
		"$(pgbench -S -n -c16 -j2 -T"$SECONDS_EACH" "$ORCHARD_DATABASE_URL" 2>/dev/null | awk '/^tps/ {print $3; exit}')"
fi
