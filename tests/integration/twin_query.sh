#!/bin/bash
# Twin queries over HTTPS: every operator and function of the IoT Hub query
# language on 250 twins, projections, COUNT and GROUP BY, TOP, keyset paging
# (no duplicate, none missed, stable under inserts), a query right after a
# PATCH, and refusals: syntax errors with their position, limits, bad
# paging headers, injection attempts (PostgreSQL logs no error).
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
trap fixture_cleanup EXIT

pg_start || exit 1
orchardd_start --threads 2 || exit 1
R=(-H "Authorization: Bearer $(token twins:read)")
W=(-H "Authorization: Bearer $(token twins:read twins:write)")
J=(-H 'Content-Type: application/json')
# q QUERY [curl args]: POST /devices/query
q() { http POST /devices/query "${R[@]}" "${J[@]}" "${@:2}" -d "$(jq -cn --arg q "$1" '{query: $q}')"; }
count() { q "SELECT * FROM devices WHERE $1" -H "x-ms-max-item-count: 1000"; jq length <<<"$BODY"; }
cont() { grep -i '^x-ms-continuation:' <<<"$HEADERS" | cut -d' ' -f2; }
state() { psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*), md5(string_agg(device_id || tags::text || desired::text, ',' ORDER BY device_id)) FROM twins"; }

pg_admin "INSERT INTO twins (device_id, etag, tags, desired, reported)
SELECT 'd' || lpad(i::text, 3, '0'), 'e' || i,
	jsonb_strip_nulls(jsonb_build_object(
		'site', CASE i % 3 WHEN 0 THEN 'berlin' WHEN 1 THEN 'paris' ELSE 'rome' END,
		'n', i, 'small', i <= 30, 'name', 'dev-' || i,
		'mixed', CASE WHEN i % 2 = 0 THEN to_jsonb(i) ELSE to_jsonb('x' || i) END,
		'arr', CASE WHEN i <= 3 THEN jsonb_build_array(i) END))
	|| CASE WHEN i % 5 = 0 THEN '{\"maybe\": null}'::jsonb ELSE '{}' END,
	'{\"\$version\": 1, \"\$metadata\": {}}',
	jsonb_build_object('temp', i, 'fw', CASE WHEN i <= 100 THEN '1.0' ELSE '2.0' END,
		'\$version', 1, '\$metadata', '{}'::jsonb)
FROM generate_series(1, 250) i" || exit 1

# --- each operator and function --------------------------------------------------
while IFS='|' read -r want cond; do
	[[ -z "$want" ]] && continue
	expect_eq "$cond" "$want" "$(count "$cond")"
done <<'CASES'
10|tags.site = 'berlin' AND tags.small = true
20|tags.site != 'berlin' AND tags.small = true
20|tags.site <> 'berlin' AND tags.small = true
9|tags.n < 10
10|tags.n <= 10
5|tags.n > 245
6|tags.n >= 245
1|tags.n = 7.0
0|tags.n = '7'
0|tags.n < '7'
5|tags.mixed > 240
1|tags.mixed = 'x7'
20|tags.site IN ['rome', 'paris'] AND tags.small = true
10|tags.site NIN ['rome', 'paris'] AND tags.small = true
20|NOT (tags.site = 'berlin') AND tags.small = true
11|tags.small = true AND tags.site = 'berlin' OR tags.n = 250
1|tags.small = true AND (tags.site = 'berlin' OR tags.n = 250) AND tags.n = 3
50|IS_DEFINED(tags.maybe)
50|IS_NULL(tags.maybe)
50|tags.maybe = null
125|IS_NUMBER(tags.mixed)
125|IS_STRING(tags.mixed)
250|IS_BOOL(tags.small)
250|IS_OBJECT(tags)
3|IS_ARRAY(tags.arr)
250|IS_PRIMITIVE(tags.n)
0|IS_PRIMITIVE(tags.arr)
111|STARTS_WITH(tags.name, 'dev-1')
25|ENDS_WITH(tags.name, '7')
0|ENDS_WITH(tags.n, '7')
150|properties.reported.temp >= 100 AND properties.reported.fw = '2.0'
250|properties.desired.$version = 1
1|deviceId = 'd007'
2|deviceId IN ['d007', 'd008', 'nope']
0|tags.nothing.here = 1
CASES

q "SELECT deviceId, tags.site, properties.reported.temp AS t, tags.maybe FROM devices WHERE deviceId = 'd003'"
expect_eq "a projection names each column by its last segment or alias; undefined is left out" \
	'[{"deviceId":"d003","site":"berlin","t":3}]' "$BODY"
q "SELECT tags.maybe FROM devices WHERE deviceId = 'd005'"
expect_eq "a JSON null is served as null" '[{"maybe":null}]' "$BODY"
q "SELECT COUNT() AS n FROM devices WHERE tags.small = true"
expect_eq "COUNT() without GROUP BY" '[{"n":30}]' "$BODY"
q "SELECT tags.site, COUNT() AS n FROM devices GROUP BY tags.site"
expect_eq "GROUP BY with COUNT, in group order" \
	'[{"site":"berlin","n":83},{"site":"paris","n":84},{"site":"rome","n":83}]' "$BODY"
q "SELECT TOP 5 * FROM devices WHERE tags.site = 'rome'"
expect_eq "TOP 5 gives five whole twins in device ID order" "5 d002 rome 1 1.0" \
	"$(jq length <<<"$BODY") $(jq -r '.[0] | "\(.deviceId) \(.tags.site) \(.properties.desired["$version"])"' <<<"$BODY") $(jq -r '.[4].properties.reported.fw' <<<"$BODY")"
expect "whole twins are served as GET serves them" jq -e '.[0] | has("etag") and has("version") and .status == "enabled"' <<<"$BODY"

# --- paging ----------------------------------------------------------------------
q "SELECT * FROM devices"
expect_eq "without x-ms-max-item-count a page holds 100" 100 "$(jq length <<<"$BODY")"
ids=$(jq -r '.[].deviceId' <<<"$BODY")
c=$(cont)
expect "and names a continuation" test -n "$c"
pg_admin "INSERT INTO twins (device_id, etag, desired, reported) VALUES ('a000', 'x', '{}', '{}'), ('zzz', 'x', '{}', '{}')"
pages=1
while [[ -n "$c" ]]; do
	q "SELECT * FROM devices" -H "x-ms-max-item-count: 100" -H "x-ms-continuation: $c"
	[[ "$STATUS" == 200 ]] || break
	ids+=$'\n'$(jq -r '.[].deviceId' <<<"$BODY")
	c=$(cont)
	pages=$((pages + 1))
done
expect_eq "250 twins in pages of 100, with one inserted behind and one ahead mid-way" "3 251 251 zzz" \
	"$pages $(wc -l <<<"$ids") $(sort -u <<<"$ids" | wc -l) $(tail -n1 <<<"$ids")"
expect_eq "the twin inserted behind the cursor is not served, nothing twice" "" "$(grep -x a000 <<<"$ids")"
pg_admin "DELETE FROM twins WHERE device_id IN ('a000', 'zzz')"

q "SELECT TOP 150 deviceId FROM devices" -H "x-ms-max-item-count: 100"
c=$(cont)
n1=$(jq length <<<"$BODY")
q "SELECT TOP 150 deviceId FROM devices" -H "x-ms-max-item-count: 100" -H "x-ms-continuation: $c"
expect_eq "TOP 150 in pages of 100: 100, then 50 and no continuation" "100 50 d150 " \
	"$n1 $(jq length <<<"$BODY") $(jq -r '.[-1].deviceId' <<<"$BODY") $(cont)"
q "SELECT deviceId FROM devices WHERE tags.small = true" -H "x-ms-max-item-count: 30"
expect_eq "an exact last page has no continuation" "30 " "$(jq length <<<"$BODY") $(cont)"
q "SELECT TOP 0 * FROM devices"
expect_eq "TOP 0 is an empty array" "200 []" "$STATUS $BODY"

# --- ORDER BY ---------------------------------------------------------------------
# pages QUERY SIZE: every page of QUERY, deviceIds one a line into IDS, pages into NP
pages() {
	local c
	q "$1" -H "x-ms-max-item-count: $2"
	IDS=$(jq -r '.[].deviceId' <<<"$BODY") NP=1
	c=$(cont)
	while [[ -n "$c" && "$STATUS" == 200 ]]; do
		q "$1" -H "x-ms-max-item-count: $2" -H "x-ms-continuation: $c"
		IDS+=$'\n'$(jq -r '.[].deviceId' <<<"$BODY")
		c=$(cont)
		NP=$((NP + 1))
	done
}
pages "SELECT * FROM devices ORDER BY tags.n DESC" 100
expect_eq "ORDER BY tags.n DESC: 250 twins in 3 pages, d250 first, d001 last, each once" "3 250 250 d250 d001" \
	"$NP $(wc -l <<<"$IDS") $(sort -u <<<"$IDS" | wc -l) $(head -n1 <<<"$IDS") $(tail -n1 <<<"$IDS")"
expect_eq "in descending order of tags.n throughout" "$(seq -f 'd%03g' 250 -1 1)" "$IDS"
pages "SELECT deviceId, tags.arr FROM devices WHERE tags.n <= 6 ORDER BY tags.arr DESC" 2
expect_eq "undefined values last (DESC too), then device ID, across pages of 2" "3 d003 d002 d001 d004 d005 d006" \
	"$NP $(tr '\n' ' ' <<<"$IDS" | sed 's/ $//')"
pages "SELECT deviceId FROM devices WHERE tags.n <= 6 ORDER BY tags.arr" 4
expect_eq "ASC: defined first, in order, then the undefined" "2 d001 d002 d003 d004 d005 d006" \
	"$NP $(tr '\n' ' ' <<<"$IDS" | sed 's/ $//')"
pages "SELECT deviceId FROM devices WHERE tags.n <= 12 ORDER BY tags.site ASC" 5
expect_eq "ties (one site, four twins) break by device ID, across pages of 5" \
	"3 d003 d006 d009 d012 d001 d004 d007 d010 d002 d005 d008 d011" "$NP $(tr '\n' ' ' <<<"$IDS" | sed 's/ $//')"
q "SELECT TOP 5 deviceId, tags.n AS n FROM devices ORDER BY tags.n DESC" -H "x-ms-max-item-count: 3"
c=$(cont)
first=$(jq -c '[.[].n]' <<<"$BODY")
q "SELECT TOP 5 deviceId, tags.n AS n FROM devices ORDER BY tags.n DESC" -H "x-ms-max-item-count: 3" -H "x-ms-continuation: $c"
expect_eq "TOP 5 with ORDER BY: the five largest, in pages of 3 and 2" "[250,249,248] [247,246] " \
	"$first $(jq -c '[.[].n]' <<<"$BODY") $(cont)"
pages "SELECT * FROM devices WHERE tags.n <= 10 ORDER BY tags.mixed" 3
expect_eq "mixed types order as jsonb does (strings before numbers)" "d001 d003 d005 d007 d009 d002 d004 d006 d008 d010" \
	"$(tr '\n' ' ' <<<"$IDS" | sed 's/ $//')"
q "SELECT * FROM devices ORDER BY tags.n DESC" -H "x-ms-max-item-count: 10"
c=$(cont)
q "SELECT * FROM devices ORDER BY tags.n ASC" -H "x-ms-continuation: $c"
expect_problem "a continuation of the DESC query is refused on the ASC one" 400 twin-query-bad-continuation
before_order=$(state)
q "SELECT * FROM devices ORDER BY tags.n SIDEWAYS"
expect_eq "an unknown ORDER BY direction: 400 twin-query-syntax at 38" "400 twin-query-syntax 38" \
	"$STATUS $(jq -r '.type | sub(".*/"; "")' <<<"$BODY") $(jq -r .position <<<"$BODY")"
q "SELECT tags.site, COUNT() AS n FROM devices GROUP BY tags.site ORDER BY tags.site"
expect_problem "ORDER BY with GROUP BY is refused" 400 twin-query-syntax
q "SELECT COUNT() AS n FROM devices ORDER BY tags.n"
expect_problem "ORDER BY with COUNT() is refused" 400 twin-query-syntax
q "SELECT * FROM devices ORDER BY tags.n, tags.site"
expect_problem "ORDER BY with two paths is refused" 400 twin-query-syntax
q "SELECT * FROM devices ORDER BY tags.'; DROP TABLE twins; --'"
expect_problem "ORDER BY with a string for a path is refused" 400 twin-query-syntax
q "SELECT * FROM devices ORDER BY tags.\$\$x DESC" -H "x-ms-max-item-count: 2"
expect_eq "ORDER BY an odd (undefined) name is a parameter: 200, 2 rows" "200 2" "$STATUS $(jq length <<<"$BODY")"
expect_eq "no ORDER BY query changed anything" "$before_order" "$(state)"

# --- strongly consistent -----------------------------------------------------------
http PATCH /twins/d005 "${W[@]}" "${J[@]}" -d '{"tags":{"site":"oslo"}}'
q "SELECT deviceId FROM devices WHERE tags.site = 'oslo'"
expect_eq "a query right after a PATCH sees it" '[{"deviceId":"d005"}]' "$BODY"

# --- refusals ----------------------------------------------------------------------
before=$(state)
q "SELECT * FROM devices WHERE tags.site = 'berlin' AND"
expect_problem "a truncated condition is a syntax error" 400 twin-query-syntax
expect_eq "with the position where it went wrong" 52 "$(jq .position <<<"$BODY")"
q "SELECT * FROM devices WHERE tags.site == 'x'"
expect_problem "== is refused" 400 twin-query-syntax
q "SELECT * FROM modules"
expect_problem "FROM modules is not served" 400 twin-query-syntax
q "SELECT * FROM devices WHERE $(printf '(%.0s' $(seq 1 40))tags.n = 1$(printf ')%.0s' $(seq 1 40))"
expect_problem "nesting past 32 is a limit" 400 twin-query-too-complex
http POST /devices/query "${R[@]}" "${J[@]}" -d '{"query": 5}'
expect_problem "a query that is not a string" 400 invalid-field
for n in 0 1001 x -1; do
	q "SELECT * FROM devices" -H "x-ms-max-item-count: $n"
	expect_problem "x-ms-max-item-count $n is refused" 400 twin-query-bad-page-size
done
q "SELECT * FROM devices" -H "x-ms-continuation: not-a-token"
expect_problem "a forged continuation is refused" 400 twin-query-bad-continuation
q "SELECT * FROM devices" -H "x-ms-max-item-count: 10"
c=$(cont)
q "SELECT deviceId FROM devices" -H "x-ms-continuation: $c"
expect_problem "another query's continuation is refused" 400 twin-query-bad-continuation
http POST /devices/query "${J[@]}" -d '{"query":"SELECT * FROM devices"}'
expect_eq "no token, no query" 401 "$STATUS"

# Injection: refused, or a correct (empty) answer; PostgreSQL logs no error.
: >"$PGDIR/pg.log.mark"
logsize=$(stat -c %s "$PGDIR/pg.log")
while IFS= read -r cond; do
	[[ -z "$cond" ]] && continue
	q "SELECT * FROM devices WHERE $cond"
	if [[ "$STATUS" == 400 ]] || [[ "$STATUS $BODY" == "200 []" ]]; then
		tap_ok "injection answered 400 or []: $cond"
	else
		tap_nok "injection: $cond" "$STATUS $BODY"
	fi
done <<'CASES'
tags.site = 'x''; DROP TABLE twins; --'
tags.site = 'x\'; DROP TABLE twins; --'
tags.site = 'berlin' --
tags.site = '/* */ OR 1=1 --'
tags.site = 'x' OR 1=1; DELETE FROM twins
tags.$$x$$ = '$$; SELECT pg_sleep(5); $$'
tags.site = 'ʼ OR ʼ1ʼ=ʼ1'
tags.site IN ['\u0027; DELETE FROM twins; --', 'x']
tags.site = '\u0000'
STARTS_WITH(tags.name, '%')
ENDS_WITH(tags.name, '_')
tags.name = 'dev-1' OR tags.name = 'x'') OR true OR (''x'
CASES
q "SELECT * FROM devices WHERE tags.site = 'x'' OR ''1''=''1'"
expect_problem "SQL's doubled quote is not an escape here" 400 twin-query-syntax
expect_eq "nothing changed" "$before" "$(state)"
errs=$(tail -c +"$((logsize + 1))" "$PGDIR/pg.log" | grep -E 'ERROR|FATAL' || true)
expect_eq "PostgreSQL logged no error" "" "$errs"

orchardd_stop
expect_eq "orchardd stops cleanly" 0 "$?"
tap_done
