#!/bin/bash
# Device twins through the operator API: merge patches and replacement,
# $version and etag with If-Match, IoT Hub's limits (a refused update
# changes nothing), concurrent writers losing nothing, and the long poll
# woken by a change made through another orchardd.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
trap fixture_cleanup EXIT

pg_start || exit 1
orchardd_start --threads 2 || exit 1
W=(-H "Authorization: Bearer $(token twins:read twins:write)")
R=(-H "Authorization: Bearer $(token twins:read)")
J=(-H 'Content-Type: application/json')
patch() { http PATCH "/twins/$1" "${W[@]}" "${J[@]}" "${@:3}" -d "$2"; }
jqb() { jq -r "$1" <<<"$BODY"; }
etag_hdr() { grep -i '^etag:' <<<"$HEADERS" | cut -d' ' -f2 | tr -d '"'; }
snapshot() { psql "$ORCHARD_DATABASE_URL" -Atc "SELECT etag, version, tags, desired FROM twins WHERE device_id = '$1'"; }

# --- the document -------------------------------------------------------------
http GET /twins/dev1 "${R[@]}"
expect_problem "an unknown twin is 404" 404 twin-not-found
http GET /twins/a%20b "${R[@]}"
expect_problem "a device ID with a space is refused" 400 twin-bad-device-id
http GET "/twins/$(printf 'a%.0s' $(seq 1 129))" "${R[@]}"
expect_problem "a device ID over 128 characters is refused" 400 twin-bad-device-id

patch dev1 '{"tags":{"site":"berlin","line":{"n":3}},"properties":{"desired":{"app":{"name":"pump","v":1}}}}'
expect_eq "the first PATCH creates the twin" 200 "$STATUS"
expect_eq "with its versions counted from a fresh twin's 1" "2 2 1" \
	"$(jqb '"\(.version) \(.properties.desired["$version"]) \(.properties.reported["$version"])"')"
expect_eq "tags and desired as sent" '{"line":{"n":3},"site":"berlin"} {"app":{"name":"pump","v":1}}' \
	"$(jq -cS '.tags' <<<"$BODY") $(jq -cS '.properties.desired | del(.["$metadata"], .["$version"])' <<<"$BODY")"
expect "each leaf has its \$lastUpdated and \$lastUpdatedVersion" \
	jq -e '.properties.desired["$metadata"].app.name | (.["$lastUpdated"] | test("^20[0-9-]+T[0-9:.]+Z$")) and .["$lastUpdatedVersion"] == 2' <<<"$BODY"
E1=$(jqb .etag)
expect_eq "the ETag header is the body's etag" "$E1" "$(etag_hdr)"
http GET /twins/dev1 "${R[@]}"
expect_eq "GET serves it with the same etag" "200 $E1 $E1" "$STATUS $(jqb .etag) $(etag_hdr)"

patch dev1 '{"tags":{"line":null},"properties":{"desired":{"app":{"v":null,"ports":[8080]}}}}'
expect_eq "null deletes, objects merge, arrays replace" '{"site":"berlin"} {"app":{"name":"pump","ports":[8080]}}' \
	"$(jq -cS '.tags' <<<"$BODY") $(jq -cS '.properties.desired | del(.["$metadata"], .["$version"])' <<<"$BODY")"
expect_eq "desired \$version and version +1, a new etag" "3 3 new" \
	"$(jqb '.properties.desired["$version"]') $(jqb .version) $([[ $(jqb .etag) != "$E1" ]] && echo new)"
expect "the deleted leaf's metadata is gone" jq -e '.properties.desired["$metadata"].app | has("v") | not' <<<"$BODY"
E2=$(jqb .etag)
patch dev1 '{"tags":{"t":1}}'
expect_eq "a tags-only change leaves desired \$version alone" "4 3" \
	"$(jqb .version) $(jqb '.properties.desired["$version"]')"
E3=$(jqb .etag)

# --- If-Match -------------------------------------------------------------------
patch dev1 '{"properties":{"desired":{"x":1}}}' -H "If-Match: \"$E2\""
expect_problem "a stale If-Match is 412" 412 twin-etag-mismatch
patch dev1 '{"properties":{"desired":{"x":1}}}' -H "If-Match: W/\"$E3\""
expect_problem "a weak etag never matches" 412 twin-etag-mismatch
patch dev1 '{"properties":{"desired":{"x":1}}}' -H "If-Match: \"$E2\", \"$E3\""
expect_eq "a list naming the current etag passes" "200 1" "$STATUS $(jqb .properties.desired.x)"
patch dev1 '{"properties":{"desired":{"x":2}}}' -H "If-Match: *"
expect_eq "* passes on an existing twin" "200 2" "$STATUS $(jqb .properties.desired.x)"
patch nobody '{"tags":{"a":1}}' -H "If-Match: *"
expect_problem "* on a twin that does not exist is 412" 412 twin-etag-mismatch
http GET /twins/nobody "${R[@]}"
expect_eq "and creates nothing" 404 "$STATUS"

# --- PUT --------------------------------------------------------------------------
before=$(jq '.properties.desired["$version"]' <<<"$(curl -sS --cacert "$TMP/var/pki/root.pem" "${R[@]}" "$URL/twins/dev1")")
http PUT /twins/dev1 "${W[@]}" "${J[@]}" -d '{"deviceId":"dev1","tags":{"only":"this"},"properties":{"desired":{"fresh":true}}}'
expect_eq "PUT replaces tags and desired" '200 {"only":"this"} {"fresh":true}' \
	"$STATUS $(jq -cS '.tags' <<<"$BODY") $(jq -cS '.properties.desired | del(.["$metadata"], .["$version"])' <<<"$BODY")"
expect_eq "and counts desired \$version up by one" "$((before + 1))" "$(jqb '.properties.desired["$version"]')"
expect_eq "leaving no metadata of what it removed" '["$lastUpdated","$lastUpdatedVersion","fresh"]' \
	"$(jq -c '.properties.desired["$metadata"] | keys' <<<"$BODY")"
http PUT /twins/dev1 "${W[@]}" "${J[@]}" -d '{"deviceId":"other","tags":{}}'
expect_problem "PUT naming another deviceId is refused" 400 twin-bad-patch
http PUT /twins/dev2 "${W[@]}" "${J[@]}" -d '{"tags":{"k":"v"}}'
expect_eq "PUT creates a twin too" "200 2" "$STATUS $(jqb .version)"
# GET, edit, PUT back: the read-only members of what GET gave are ignored.
http GET /twins/dev1 "${R[@]}"
edited=$(jq -c '.tags.edited = true | .properties.desired.fresh = false' <<<"$BODY")
etag=$(jqb .etag)
http PUT /twins/dev1 "${W[@]}" "${J[@]}" -H "If-Match: \"$etag\"" -d "$edited"
expect_eq "a twin as GET gave it, edited, can be PUT back" '200 true false' \
	"$STATUS $(jqb .tags.edited) $(jqb .properties.desired.fresh)"
# (without reported, which is refused as twin-read-only where it comes first)
http PATCH /twins/dev1 "${W[@]}" "${J[@]}" -d "$(jq -c 'del(.properties.reported)' <<<"$edited")"
expect_problem "but a PATCH with read-only members is still refused" 400 twin-bad-patch

# --- bad input: each refused whole, nothing changed -------------------------------
S0=$(snapshot dev1)
big() { head -c "$1" /dev/zero | tr '\0' x; }
deep='{"a":1}'
for _ in $(seq 1 10); do deep="{\"a\":$deep}"; done
printf '{"properties":{"desired":{"a":"%s","b":"%s","c":"%s","d":"%s","e":"%s","f":"%s","g":"%s","h":"%s","i":"%s"}}}' \
	"$(big 3700)" "$(big 3700)" "$(big 3700)" "$(big 3700)" "$(big 3700)" "$(big 3700)" "$(big 3700)" "$(big 3700)" \
	"$(big 3700)" >"$TMP/desired-33k.json"
printf '{"tags":{"a":"%s","b":"%s","c":"%s"}}' "$(big 3000)" "$(big 3000)" "$(big 3000)" >"$TMP/tags-8k.json"
while IFS='|' read -r name body status type; do
	http PATCH /twins/dev1 "${W[@]}" "${J[@]}" --data-binary "$body"
	expect_problem "$name: $status $type" "$status" "$type"
	expect_eq "$name: the twin is unchanged" "$S0" "$(snapshot dev1)"
done <<EOT
not JSON|{"tags":|400|malformed-json
an array|[1]|400|twin-bad-patch
a string|"x"|400|malformed-json
tags not an object|{"tags":5}|400|twin-bad-patch
tags null|{"tags":null}|400|twin-bad-patch
desired an array|{"properties":{"desired":[1]}}|400|twin-bad-patch
an unknown member|{"status":"disabled"}|400|twin-bad-patch
reported from an operator|{"properties":{"reported":{"a":1}}}|400|twin-read-only
a key starting with \$|{"properties":{"desired":{"ok":1,"\$x":1}}}|400|twin-bad-key
a key with a dot|{"tags":{"a.b":1}}|400|twin-bad-key
a key with a space|{"properties":{"desired":{"a":{"b c":1}}}}|400|twin-bad-key
a key with a control character|{"tags":{"a\u0007":1}}|400|twin-bad-key
too deep (11 levels)|{"properties":{"desired":$deep}}|400|twin-too-deep
a 4097-byte string|{"tags":{"ok":1,"s":"$(big 4097)"}}|400|twin-string-too-long
an integer past 2^53|{"properties":{"desired":{"ok":1,"n":9007199254740993}}}|400|twin-number-out-of-range
desired past 32 KB|@$TMP/desired-33k.json|400|twin-too-large
tags past 8 KB|@$TMP/tags-8k.json|400|twin-too-large
EOT
http PATCH /twins/dev1 "${W[@]}" "${J[@]}" -d '{"properties":{"desired":{"ok":1,"n":9007199254740992}}}'
expect_eq "an integer of exactly 2^53 is taken" "200 9007199254740992" "$STATUS $(jqb .properties.desired.n)"
http PATCH /twins/newbig "${W[@]}" "${J[@]}" --data-binary "@$TMP/desired-33k.json"
expect_problem "too large on a new twin" 400 twin-too-large
http GET /twins/newbig "${R[@]}"
expect_eq "creates no twin" 404 "$STATUS"

# --- who may ----------------------------------------------------------------------
http PATCH /twins/dev1 "${R[@]}" "${J[@]}" -d '{"tags":{"a":1}}'
expect_problem "twins:read cannot PATCH" 403 forbidden-scope
http PUT /twins/dev1 "${R[@]}" "${J[@]}" -d '{"tags":{"a":1}}'
expect_problem "nor PUT" 403 forbidden-scope
http GET /twins/dev1
expect_problem "no token, no twin" 401 auth-missing

# --- concurrent writers -------------------------------------------------------------
psql_q() { psql "$ORCHARD_DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
audited() { psql_q "SELECT count(*) FROM audit_log WHERE method = 'PATCH' AND path = '/twins/dev1' AND status = 200"; }
http GET /twins/dev1 "${R[@]}"
v0=$(jqb '.properties.desired["$version"]') tv0=$(jqb .version) a0=$(audited)
pids=()
for i in $(seq 1 20); do
	"${CURL[@]}" -o /dev/null -w '%{http_code}\n' "${W[@]}" "${J[@]}" -X PATCH \
		-d "{\"properties\":{\"desired\":{\"c$i\":$i}}}" "$URL/twins/dev1" >>"$TMP/concurrent" &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "20 concurrent PATCHes all succeed" "20 200" "$(sort "$TMP/concurrent" | uniq -c | tr -s ' ' | sed 's/^ //')"
http GET /twins/dev1 "${R[@]}"
expect_eq "desired \$version and version are exactly +20" "$((v0 + 20)) $((tv0 + 20))" \
	"$(jqb '.properties.desired["$version"]') $(jqb .version)"
expect_eq "no update lost" 20 "$(jq '[.properties.desired | to_entries[] | select(.key | startswith("c"))] | length' <<<"$BODY")"
expect_eq "each leaf's \$lastUpdatedVersion is distinct" 20 \
	"$(jq '[.properties.desired["$metadata"] | to_entries[] | select(.key | startswith("c")) | .value["$lastUpdatedVersion"]] | unique | length' <<<"$BODY")"
expect_eq "each wrote one history row and one audit row" "20 20 $((tv0 + 20))" \
	"$(psql_q "SELECT count(DISTINCT version) FROM twin_history WHERE device_id = 'dev1' AND version > $tv0") $(($(audited) - a0)) $(psql_q "SELECT max(version) FROM twin_history WHERE device_id = 'dev1'")"

# --- the long poll ------------------------------------------------------------------
http GET /twins/dev1 "${R[@]}"
v=$(jqb '.properties.desired["$version"]')
http GET "/twins/dev1?waitForVersion=$((v - 1))&wait=10" "${R[@]}"
expect_eq "a newer version answers at once" "200 $v" "$STATUS $(jqb '.properties.desired["$version"]')"
start=$(date +%s%N)
http GET "/twins/dev1?waitForVersion=$v&wait=1" "${R[@]}"
ms=$((($(date +%s%N) - start) / 1000000))
expect "nothing newer: 204 after the wait (${ms} ms)" test "$STATUS" = 204 -a "$ms" -ge 950 -a "$ms" -lt 3000
for q in "waitForVersion=x" "waitForVersion=-1" "waitForVersion=1&wait=61" "wait=5"; do
	http GET "/twins/dev1?$q" "${R[@]}"
	expect_problem "bad query $q: 400" 400 invalid-parameter
done
http GET "/twins/ghost?waitForVersion=1&wait=5" "${R[@]}"
expect_problem "waiting on an unknown twin is 404 at once" 404 twin-not-found

# A second orchardd on the same database: a PATCH there wakes our waiter.
OPID1=$OPID URL1=$URL
orchardd_start --threads 2 || exit 1
URL2=$URL OPID2=$OPID
OPID=$OPID1 URL=$URL1
(
	sleep 0.5
	"${CURL[@]}" -o /dev/null "${W[@]}" "${J[@]}" -X PATCH -d '{"tags":{"noise":1}}' "$URL2/twins/dev1"
	"${CURL[@]}" -o /dev/null "${W[@]}" "${J[@]}" -X PATCH -d '{"properties":{"desired":{"from":"b"}}}' "$URL2/twins/dev1"
) &
bg=$!
start=$(date +%s%N)
http GET "/twins/dev1?waitForVersion=$v&wait=20" "${R[@]}"
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "a desired change on another instance wakes the waiter" "200 $((v + 1)) b" \
	"$STATUS $(jqb '.properties.desired["$version"]') $(jqb .properties.desired.from)"
expect "within a moment of the change (${ms} ms)" test "$ms" -lt 3000
wait $bg
# Waiters on other twins are not woken by it.
( sleep 0.3; "${CURL[@]}" -o /dev/null "${W[@]}" "${J[@]}" -X PATCH -d '{"properties":{"desired":{"y":1}}}' "$URL2/twins/dev1" ) &
bg=$!
http GET "/twins/dev2?waitForVersion=$(jq '.properties.desired["$version"]' <<<"$("${CURL[@]}" "${R[@]}" "$URL/twins/dev2")")&wait=1" "${R[@]}"
expect_eq "a waiter on another twin sleeps on" 204 "$STATUS"
wait $bg
# The optimistic PATCH commits without NOTIFY; its wakes (the twin's and
# its audit row's) are sent after commit by the hub's notifier, batched.
AU=(-H "Authorization: Bearer $(token all)")
last=$("${CURL[@]}" "${AU[@]}" "$URL/ops/audit?limit=1" | jq '.items[0].id // 0')
( sleep 0.3; "${CURL[@]}" -o /dev/null "${W[@]}" "${J[@]}" -X PATCH -d '{"properties":{"desired":{"z":1}}}' "$URL2/twins/dev2" ) &
bg=$!
start=$(date +%s%N)
http GET "/ops/audit?after=$last&wait=20" "${AU[@]}"
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "an audit long poll on A is woken by a desired PATCH on B" "200 /twins/dev2" \
	"$STATUS $(jqb '.items[0].path')"
expect "within a moment of the change (${ms} ms)" test "$ms" -lt 3000
wait $bg

# --- many twins at once, through both instances --------------------------------
# Optimistic writers on two orchardd and six twins: each twin moves by
# exactly one per change, with its own history and audit rows.
for g in 1 2 3 4 5 6; do http PATCH "/twins/g$g" "${W[@]}" "${J[@]}" -d '{"properties":{"desired":{"s":0}}}'; done
ga0=$(psql_q "SELECT count(*) FROM audit_log WHERE path LIKE '/twins/g_' AND status = 200")
pids=()
for i in $(seq 1 5); do
	for g in 1 2 3 4 5 6; do
		u=$URL
		((i % 2)) && u=$URL2
		"${CURL[@]}" -o /dev/null -w '%{http_code}\n' "${W[@]}" "${J[@]}" -X PATCH \
			-d "{\"properties\":{\"desired\":{\"k$i\":$i}}}" "$u/twins/g$g" >>"$TMP/group" &
		pids+=($!)
	done
done
wait "${pids[@]}"
expect_eq "30 concurrent PATCHes of 6 twins on 2 instances all succeed" "30 200" "$(sort "$TMP/group" | uniq -c | tr -s ' ' | sed 's/^ //')"
got=
for g in 1 2 3 4 5 6; do
	http GET "/twins/g$g" "${R[@]}"
	got+="$(jqb '.properties.desired["$version"]'):$(jq '[.properties.desired | keys[] | select(startswith("k"))] | length' <<<"$BODY") "
done
expect_eq "each twin: desired \$version exactly +5, no change lost" "7:5 7:5 7:5 7:5 7:5 7:5 " "$got"
expect_eq "one history row a change, versions 2..7 each, and one audit row a change" "36 0 30" \
	"$(psql_q "SELECT count(*), count(*) - count(DISTINCT (device_id, version)) FROM twin_history WHERE device_id LIKE 'g_'" | tr '|' ' ') $(($(psql_q "SELECT count(*) FROM audit_log WHERE path LIKE '/twins/g_' AND status = 200") - ga0))"

OPID=$OPID2
orchardd_stop
OPID=$OPID1
orchardd_stop
expect_eq "orchardd stops cleanly" 0 "$?"
tap_done
