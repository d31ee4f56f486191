#!/bin/bash
# Device twins, the device's side: IoT Hub device SAS (good, expired,
# forged, another device's, unknown device), the device's GET and reported
# PATCH (every refusal changes nothing), the desired long poll woken across
# two orchardd instances, the stream resumed by Last-Event-ID, 20
# concurrent reported PATCHes, and the history of every change.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
. "$(dirname "$0")/../lib/dps.sh"
trap 'kill $OPID2 2>/dev/null; fixture_cleanup' EXIT
OPID2=
J=(-H 'Content-Type: application/json')
jqb() { jq -r "$1" <<<"$BODY"; }
psql_q() { psql "$ORCHARD_DATABASE_URL" -Atc "$1"; }
snapshot() { psql_q "SELECT etag, version, reported FROM twins WHERE device_id = '$1'"; }

pg_start || exit 1
orchardd_start --threads 4 || exit 1
OPID2=$OPID URL2=$URL OLOG2=$OLOG
orchardd_start --threads 4 || exit 1
W=(-H "Authorization: Bearer $(token all)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
AV="api-version=2021-10-01"

# --- a registered device of each kind ------------------------------------------
http PUT "/enrollments/dev-a?$AV" "${W[@]}" "${J[@]}" -d '{"registrationId":"dev-a",
	"attestation":{"type":"symmetricKey"},"initialTwin":{"tags":{"site":"x"},"properties":{"desired":{"app":"blink"}}}}'
PK=$(jqb .attestation.symmetricKey.primaryKey) SK=$(jqb .attestation.symmetricKey.secondaryKey)
http PUT "/enrollmentGroups/line?$AV" "${W[@]}" "${J[@]}" -d '{"attestation":{"type":"symmetricKey"}}'
GK=$(jqb .attestation.symmetricKey.primaryKey)
GDK=$(dps_derive "$GK" dev-g)
register() { # REGID KEY
	http PUT "/$SCOPE/registrations/$1/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/$1" "$2")" \
		"${J[@]}" -d "{\"registrationId\":\"$1\"}"
}
register dev-a "$PK"
expect_eq "dev-a registers (assigned at once)" 200 "$STATUS"
register dev-g "$GDK"
expect_eq "dev-g registers through its group (assigned at once)" 200 "$STATUS"
# an enrolled but never registered device
http PUT "/enrollments/dev-n?$AV" "${W[@]}" "${J[@]}" -d '{"registrationId":"dev-n","attestation":{"type":"symmetricKey"}}'
NK=$(jqb .attestation.symmetricKey.primaryKey)

HOST=hub.example.test
hub() { SKN= dps_sas "${3:-$HOST/devices/$1}" "$2" "${4:-}"; } # DEVICE KEY [SR] [SE]
dev() { # METHOD PATH AUTH [curl args]
	local m=$1 p=$2 a=$3
	shift 3
	http "$m" "$p" -H "Authorization: $a" "$@"
}

# --- device SAS -------------------------------------------------------------------
dev GET /devices/dev-a/twin "$(hub dev-a "$PK")"
expect_eq "a device reads its own twin with its SAS" "200 dev-a blink" "$STATUS $(jqb .deviceId) $(jqb .properties.desired.app)"
expect_eq "without tags" null "$(jqb .tags)"
dev GET /devices/dev-a/twin "$(hub dev-a "$SK")"
expect_eq "the secondary key works too" 200 "$STATUS"
dev GET /devices/dev-a/twin "$(hub dev-a "$PK" "$(urlenc "$HOST/devices/dev-a")")"
expect_eq "sr URL-encoded" 200 "$STATUS"
dev GET /devices/dev-a/twin "$(hub dev-a "$PK" "devices/dev-a")"
expect_eq "sr without the host" 200 "$STATUS"
dev GET /devices/dev-g/twin "$(hub dev-g "$GDK")"
expect_eq "a group's device with its derived key" "200 dev-g" "$STATUS $(jqb .deviceId)"
dev GET /devices/dev-g/twin "$(hub dev-g "$GK")"
expect_problem "the group key itself is not the device's" 401 twin-device-unauthorized
expect "401 says which scheme" grep -qi '^www-authenticate: SharedAccessSignature' <<<"$HEADERS"
dev GET /devices/dev-a/twin "$(hub dev-a "$PK" "" $(($(date +%s) - 600)))"
expect_problem "an expired SAS is 401" 401 twin-device-unauthorized
dev GET /devices/dev-a/twin "$(hub dev-a "$NK")"
expect_problem "a SAS forged with another key is 401" 401 twin-device-unauthorized
dev GET /devices/dev-a/twin "SharedAccessSignature sr=x&sig=abc&se=1"
expect_problem "a malformed SAS is 401" 401 twin-device-unauthorized
http GET /devices/dev-a/twin
expect_problem "no Authorization is 401" 401 twin-device-unauthorized
dev GET /devices/dev-a/twin "$(SKN='&skn=owner' dps_sas "$HOST/devices/dev-a" "$PK")"
expect_problem "a policy SAS (skn) is not a device's" 401 twin-device-unauthorized
dev GET /devices/dev-g/twin "$(hub dev-a "$PK")"
expect_problem "dev-a's valid SAS on dev-g's twin is 403" 403 twin-device-forbidden
dev PATCH /devices/dev-g/twin/reported "$(hub dev-a "$PK")" "${J[@]}" -d '{"x":1}'
expect_problem "nor may it write dev-g's reported properties" 403 twin-device-forbidden
dev GET /devices/dev-n/twin "$(hub dev-n "$NK")"
expect_problem "an enrolled device that never registered is 404" 404 twin-device-unknown
dev GET /devices/ghost/twin "$(hub ghost "$NK")"
expect_problem "an unknown device is 404" 404 twin-device-unknown
A=$(hub dev-a "$PK")

# --- reported PATCH -----------------------------------------------------------------
dev PATCH /devices/dev-a/twin/reported "$A" "${J[@]}" -d '{"app":{"running":true,"v":"1.0"},"cert":"ok"}'
expect_eq "a reported PATCH merges and counts \$version" "200 true 2" "$STATUS $(jqb .app.running) $(jqb '.["$version"]')"
expect "with \$metadata per leaf" jq -e '.["$metadata"].app.running["$lastUpdated"] | test("Z$")' <<<"$BODY"
dev PATCH /devices/dev-a/twin/reported "$A" "${J[@]}" -d '{"cert":null}'
expect_eq "null deletes" "200 null 3" "$STATUS $(jqb .cert) $(jqb '.["$version"]')"
BEFORE=$(snapshot dev-a)
bad() { # NAME BODY STATUS TYPE
	dev PATCH /devices/dev-a/twin/reported "$A" "${J[@]}" -d "$2"
	expect_problem "$1" "$3" "$4"
}
bad "invalid JSON" '{"a":' 400 malformed-json
bad "a non-object patch" '[1,2]' 400 twin-bad-reported
bad "a string patch (the body parser's refusal)" '"x"' 400 malformed-json
bad "a \$ key" '{"$x":1}' 400 twin-bad-key
bad "a key with a dot" '{"a.b":1}' 400 twin-bad-key
bad "too deep" '{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":1}}}}}}}}}}}' 400 twin-too-deep
bad "a string over 4 KB" "{\"s\":\"$(printf 'x%.0s' $(seq 1 4097))\"}" 400 twin-string-too-long
bad "an integer past 2^53" '{"n":9007199254740993}' 400 twin-number-out-of-range
BIG=$(printf 'y%.0s' $(seq 1 4000))
bad "reported over 32 KB" "{$(for i in $(seq 1 9); do printf '"k%d":"%s",' $i "$BIG"; done)\"z\":1}" 400 twin-too-large
dev PATCH /devices/dev-a/twin/reported "$A" "${J[@]}" -H 'If-Match: "stale"' -d '{"x":1}'
expect_problem "a stale If-Match" 412 twin-etag-mismatch
expect_eq "no refusal changed anything" "$BEFORE" "$(snapshot dev-a)"

# --- concurrency: 20 reported PATCHes at once ----------------------------------------
V0=$(psql_q "SELECT reported->>'\$version' FROM twins WHERE device_id = 'dev-a'")
PIDS=()
for i in $(seq 1 20); do
	"${CURL[@]}" -o /dev/null -w '%{http_code}\n' -X PATCH -H "Authorization: $A" "${J[@]}" \
		-d "{\"c$i\":$i}" "$URL/devices/dev-a/twin/reported" >"$TMP/code.$i" &
	PIDS+=($!)
done
wait "${PIDS[@]}"
cat "$TMP"/code.* >"$TMP/codes"
expect_eq "20 concurrent PATCHes all succeed" 20 "$(grep -c '^200$' "$TMP/codes")"
expect_eq "reported \$version is exactly +20" $((V0 + 20)) "$(psql_q "SELECT reported->>'\$version' FROM twins WHERE device_id = 'dev-a'")"
expect_eq "and no member was lost" 20 "$(psql_q "SELECT count(*) FROM jsonb_object_keys((SELECT reported FROM twins WHERE device_id = 'dev-a')) k WHERE k LIKE 'c%'")"

# --- desired long poll, woken across instances -----------------------------------------
dev GET /devices/dev-a/twin/desired "$A"
DV=$(jqb '.["$version"]')
expect_eq "desired at once without since" "200 blink" "$STATUS $(jqb .app)"
dev GET "/devices/dev-a/twin/desired?since=$((DV - 1))&wait=10" "$A"
expect_eq "since below the current \$version answers at once (a missed update)" "200 $DV" "$STATUS $(jqb '.["$version"]')"
dev GET "/devices/dev-a/twin/desired?since=$DV&wait=1" "$A"
expect_eq "nothing new: 204 after the wait" 204 "$STATUS"
dev GET "/devices/dev-a/twin/desired?wait=1" "$A"
expect_problem "wait without since" 400 invalid-parameter
dev GET "/devices/dev-a/twin/desired?since=-1" "$A"
expect_problem "a negative since" 400 invalid-parameter
T0=$(date +%s%N)
"${CURL[@]}" -H "Authorization: $A" -o "$TMP/poll" -w '%{http_code}' \
	"$URL/devices/dev-a/twin/desired?since=$DV&wait=20" >"$TMP/poll.code" &
POLL=$!
for _ in $(seq 1 100); do
	[[ "$(curl -s --cacert "$TMP/var/pki/root.pem" "$URL/metrics" | awk '/^orchard_requests_waiting /{print $2}')" == 1 ]] && break
	sleep 0.05
done
echo "# waited $((($(date +%s%N) - T0) / 1000000)) ms for the poll to sleep" >&2
URLA=$URL; URL=$URL2; http PATCH /twins/dev-a "${W[@]}" "${J[@]}" -d '{"properties":{"desired":{"app":"fan"}}}'; URL=$URLA
wait $POLL
MS=$((($(date +%s%N) - T0) / 1000000))
expect_eq "a desired PATCH on the other instance wakes the poll" "200 fan" "$(cat "$TMP/poll.code") $(jq -r .app "$TMP/poll")"
expect "well before its 20 s wait (${MS} ms)" test "$MS" -lt 10000

# --- stream, resumed with Last-Event-ID ------------------------------------------------
DV=$(psql_q "SELECT desired->>'\$version' FROM twins WHERE device_id = 'dev-a'")
"${CURL[@]}" -N --max-time 3 -H "Authorization: $A" "$URL/devices/dev-a/twin/stream" >"$TMP/s1" 2>/dev/null
expect "a new stream starts with the current desired" grep -q "^id: $DV\$" "$TMP/s1"
expect "as a desired event" grep -q '^data: .*"app":"fan"' "$TMP/s1"
"${CURL[@]}" -N --max-time 2 -H "Authorization: $A" -H "Last-Event-ID: $DV" "$URL/devices/dev-a/twin/stream" >"$TMP/s2" 2>/dev/null
expect "resumed at the current \$version: nothing to send" test ! -s "$TMP/s2"
# a change while the device is away, then it comes back
URL=$URL2; http PATCH /twins/dev-a "${W[@]}" "${J[@]}" -d '{"properties":{"desired":{"app":"drill"}}}'; URL=$URLA
"${CURL[@]}" -N --max-time 2 -H "Authorization: $A" -H "Last-Event-ID: $DV" "$URL/devices/dev-a/twin/stream" >"$TMP/s3" 2>/dev/null
expect "resumed after a missed change: sent at once" grep -q "^id: $((DV + 1))\$" "$TMP/s3"
"${CURL[@]}" -N --max-time 4 -H "Authorization: $A" -H "Last-Event-ID: $((DV + 1))" "$URL/devices/dev-a/twin/stream" >"$TMP/s4" 2>/dev/null &
SP=$!
sleep 1
URL=$URL2; http PATCH /twins/dev-a "${W[@]}" "${J[@]}" -d '{"properties":{"desired":{"app":"saw"}}}'; URL=$URLA
wait $SP
expect "a live stream gets the change made on the other instance" grep -q '^data: .*"app":"saw"' "$TMP/s4"
dev GET /devices/dev-a/twin/stream "$A" -H 'Last-Event-ID: x'
expect_problem "a bad Last-Event-ID" 400 invalid-parameter

# --- history ------------------------------------------------------------------------
R=(-H "Authorization: Bearer $(token twins:read)")
http GET /twins/dev-a/history "${R[@]}"
expect_eq "history lists every change" 200 "$STATUS"
N=$(jqb '.items | length')
expect_eq "seed + 2 + 20 reported, 3 desired" 26 "$N"
expect_eq "the first is DPS's seed" "dps dev-a tags,desired" "$(jqb '.items[0] | "\(.by.kind) \(.by.id) \(.sections | join(","))"')"
expect_eq "a device's change names the device" "device dev-a reported" "$(jqb '.items[1] | "\(.by.kind) \(.by.id) \(.sections | join(","))"')"
JTI=$(psql_q "SELECT actor FROM twin_history WHERE actor_kind = 'operator' LIMIT 1")
expect_eq "an operator's names its token's jti" "operator $JTI desired" "$(jqb '.items[-1] | "\(.by.kind) \(.by.id) \(.sections | join(","))"')"
expect_eq "with the patch as sent" '{"properties":{"desired":{"app":"saw"}}}' "$(jq -c '.items[-1].patch' <<<"$BODY")"
expect_eq "each operator change has one audit row, written in its transaction" "3 3" \
	"$(psql_q "SELECT count(*) FROM twin_history WHERE device_id = 'dev-a' AND actor_kind = 'operator'") $(psql_q "SELECT count(*) FROM audit_log WHERE method = 'PATCH' AND path = '/twins/dev-a' AND status = 200")"
expect "versions strictly increase" jq -e '[.items[].version] | . == (sort | unique)' <<<"$BODY"
http GET "/twins/dev-a/history?limit=10" "${R[@]}"
NEXT=$(jqb .next)
expect_eq "paged with limit, linked by next" "10 /twins/dev-a/history?after=$(jqb '.items[9].version')&limit=10" "$(jqb '.items|length') $NEXT"
http GET "$NEXT" "${R[@]}"
expect_eq "the next page follows" "10" "$(jqb '.items|length')"
http PUT /twins/dev-g "${W[@]}" "${J[@]}" -d '{"tags":{"t":1},"properties":{"desired":{"d":2}}}'
http GET /twins/dev-g/history "${R[@]}"
expect_eq "a PUT is recorded as replacing tags and desired" "operator tags,desired 1" \
	"$(jqb '.items[-1] | "\(.by.kind) \(.sections | join(",")) \(.patch.tags.t)"')"
http PATCH /twins/op-made "${W[@]}" "${J[@]}" -d '{"tags":{"t":1}}'
http GET /twins/op-made/history "${R[@]}"
expect_eq "a twin an operator's PATCH creates has that PATCH as its first entry" "1 2 operator tags" \
	"$(jqb '"\(.items | length) \(.items[0].version) \(.items[0].by.kind) \(.items[0].sections | join(","))"')"
http GET /twins/nobody/history "${R[@]}"
expect_eq "an unknown device has an empty history" "200 0" "$STATUS $(jqb '.items | length')"
http GET "/twins/dev-a/history?limit=0" "${R[@]}"
expect_problem "limit 0" 400 invalid-parameter
http GET "/twins/dev-a/history?after=x" "${R[@]}"
expect_problem "a bad after" 400 invalid-parameter
http GET /twins/dev-a/history -H "Authorization: $A"
expect_problem "a device SAS does not read history" 401 auth-missing

# A stream open while orchardd stops ends cleanly; both stop with status 0
# (under ASan: no error, no leak).
"${CURL[@]}" -N --max-time 10 -H "Authorization: $A" "$URL/devices/dev-a/twin/stream" >/dev/null 2>&1 &
sleep 0.5
orchardd_stop
RC1=$?
OPID=$OPID2 OPID2=
orchardd_stop
expect_eq "both instances stop cleanly" "0 0" "$RC1 $?"
expect_fail "no sanitizer report" grep -q Sanitizer "$OLOG" "$OLOG2"
tap_done
