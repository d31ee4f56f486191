#!/bin/bash
# Interop: IoT Hub direct methods. An operator invokes a method with curl
# (POST /twins/{id}/methods?api-version=2021-10-01, IoT Hub's body) and the
# unmodified Node SDK's onDeviceMethod handler answers it through mosquitto
# + the Orchard plugin + orchardd: 200 {"status","payload"}; 504 when the
# device does not answer in time; 404 when it is not connected or never
# subscribed to methods (at once, or
# after connectTimeoutInSeconds when it connects meanwhile: then 200); a
# second device cannot answer for the first; bad input is refused and
# reaches no device. Telemetry is stored and read back, and an operator's
# cloud-to-device message reaches the SDK's 'message' handler. Skipped
# without node, npm or mosquitto.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/npm.sh
. tests/lib/iothub.sh
MPID= NPIDS=()
trap '[[ -n "$MPID" ]] && kill "$MPID" 2>/dev/null; for p in "${NPIDS[@]}"; do kill "$p" 2>/dev/null; done; fixture_cleanup' EXIT

iothub_prepare

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" || { tap_nok "orchardd starts"; tap_done; exit 1; }
broker_start
expect_eq "orchardd connects to mosquitto as its backend" 1 "$(grep -c '"msg":"mqtt backend connected"' "$OLOG")"

W=(-H "Authorization: Bearer $(token all)" "${JSON[@]}")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
for d in mm-1 mm-2 mm-3; do
	http PUT "/enrollments/$d?$AV" "${W[@]}" -d '{"registrationId":"'$d'","attestation":{"type":"symmetricKey"}}'
	key=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
	http PUT "/$SCOPE/registrations/$d/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/$d" "$key")" \
		"${JSON[@]}" -d "{\"registrationId\":\"$d\"}"
	expect_eq "$d registers over DPS" 200 "$STATUS"
	declare "KEY_${d/-/_}=$key"
done
HUB=$(psql_q "SELECT assigned_hub FROM dps_registrations WHERE registration_id = 'mm-1'")
HUB=${HUB:-127.0.0.1}

# device DEV KEY NAME [DEV2 KEY2]: runs the SDK device in the background
device() {
	NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
		timeout 120 node tests/interop/iothub_methods.js "$MPORT" "$HUB" "$1" "$2" "$TMP/stop-$3" "${@:4}" \
		>"$TMP/$3.out" 2>"$TMP/$3.err" &
	NPIDS+=($!)
}
wait_line() { # FILE STEP
	for _ in $(seq 1 400); do grep -q "\"step\":\"$2\"" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
calls() { grep -c '"step":"call"' "$TMP/$1.out"; }
M=/twins/mm-1/methods?$AV

device mm-1 "$KEY_mm_1" d1 mm-2 "$KEY_mm_2"
wait_line "$TMP/d1.out" ready
expect "the SDK device opens and registers its method handlers" wait_line "$TMP/d1.out" ready ||
	cat "$TMP/d1.out" "$TMP/d1.err" >&2

http POST "$M" "${W[@]}" -d '{"methodName":"echo","payload":{"delay":3,"who":["a",1]},"responseTimeoutInSeconds":10}'
expect_eq "a method call: 200 with the device's status and payload" \
	'200 {"payload":{"got":{"delay":3,"who":["a",1]},"name":"echo"},"status":200}' "$STATUS $(jq -cS . <<<"$BODY")"
http POST "$M" "${W[@]}" -d '{"methodName":"echo"}'
expect_eq "no payload: the device gets null; the default timeout" '200 null' "$STATUS $(jq -c .payload.got <<<"$BODY")"
http POST "$M" "${W[@]}" -d '{"methodName":"echo","payload":"text"}'
expect_eq "a string payload travels as JSON" '200 "text"' "$STATUS $(jq -c .payload.got <<<"$BODY")"
http POST "$M" "${W[@]}" -d '{"methodName":"fail","payload":{}}'
expect_eq "the device's own error status is the call's status (HTTP 200)" '200 500 cannot' \
	"$STATUS $(jq -r '[.status, .payload.why] | join(" ")' <<<"$BODY")"

# 20 calls at once: each gets its own answer (the rid routes it)
PAR=()
for i in $(seq 1 20); do
	"${CURL[@]}" -X POST "${W[@]}" -d '{"methodName":"echo","payload":{"n":'$i'}}' "$URL$M" >"$TMP/par.$i" &
	PAR+=($!)
done
wait "${PAR[@]}"
wait_n=0
for i in $(seq 1 20); do [[ "$(jq -r .payload.got.n "$TMP/par.$i")" == "$i" ]] && wait_n=$((wait_n + 1)); done
expect_eq "20 concurrent calls: each answered with its own payload" 20 "$wait_n"

# no answer: 504 after responseTimeoutInSeconds; a second device answering
# in the first one's place changes nothing (both run side by side)
t0=$(date +%s%N)
"${CURL[@]}" -X POST "${W[@]}" -d '{"methodName":"relay","responseTimeoutInSeconds":5}' \
	-o "$TMP/relay.body" -w '%{http_code}' "$URL$M" >"$TMP/relay.status" &
RELAY=$!
"${CURL[@]}" -X POST "${W[@]}" -d '{"methodName":"slow","responseTimeoutInSeconds":5}' \
	-o "$TMP/slow.body" -w '%{http_code}' "$URL$M" >"$TMP/slow.status" &
SLOW=$!
for _ in $(seq 1 100); do
	sleeping=$("${CURL[@]}" "$URL/metrics" | grep -o '^orchard_requests_waiting [0-9]*' | cut -d' ' -f2)
	[[ "${sleeping:-0}" -ge 2 ]] && break
	sleep 0.05
done
expect_eq "both calls sleep while they wait (suspended, no thread each)" 2 "$sleeping"
wait "$SLOW"
STATUS=$(cat "$TMP/slow.status") BODY=$(cat "$TMP/slow.body")
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a device that does not answer: 504 with IoT Hub's errorCode 504101 after about 5 s" "504 504101 true" \
	"$STATUS $(jq -r .errorCode <<<"$BODY") $(((ms >= 4900 && ms < 8000)) && echo true)"
wait "$RELAY"
expect_eq "another device answering for it is ignored: 504" "504 504101" \
	"$(cat "$TMP/relay.status") $(jq -r .errorCode "$TMP/relay.body")"

# not connected
t0=$(date +%s%N)
http POST "/twins/mm-3/methods?$AV" "${W[@]}" -d '{"methodName":"echo"}'
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a device that is not connected: 404 with IoT Hub's errorCode 404103, at once" "404 404103 true" \
	"$STATUS $(jq -r .errorCode <<<"$BODY") $(((ms < 2000)) && echo true)"
t0=$(date +%s%N)
http POST "/twins/mm-2/methods?$AV" "${W[@]}" -d '{"methodName":"echo","responseTimeoutInSeconds":5}'
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a device connected but not subscribed to methods (no onDeviceMethod): 404 404103 at once, as IoT Hub" \
	"404 404103 true" "$STATUS $(jq -r .errorCode <<<"$BODY") $(((ms < 2000)) && echo true)"
http POST "/twins/nobody/methods?$AV" "${W[@]}" -d '{"methodName":"echo"}'
expect_eq "an unknown device: 404 404103" "404 404103" "$STATUS $(jq -r .errorCode <<<"$BODY")"
# connectTimeoutInSeconds: the call waits for mm-3 to connect
"${CURL[@]}" -X POST "${W[@]}" -d '{"methodName":"echo","payload":7,"connectTimeoutInSeconds":30}' \
	-o "$TMP/ct.body" -w '%{http_code}' "$URL/twins/mm-3/methods?$AV" >"$TMP/ct.status" &
CT=$!
sleep 0.3
device mm-3 "$KEY_mm_3" d2
wait "$CT"
expect_eq "connectTimeoutInSeconds: a device that connects meanwhile gets the call" "200 7" \
	"$(cat "$TMP/ct.status") $(jq -r .payload.got "$TMP/ct.body")"

# bad input: refused, and no device hears of it
before=$(calls d1)
bad() { # NAME STATUS BODY [PATH]
	http POST "${4:-$M}" "${W[@]}" -d "$3"
	expect_eq "$1: $2" "$2" "$STATUS"
}
bad "no methodName" 400 '{"payload":1}'
bad "methodName empty" 400 '{"methodName":""}'
bad "methodName with a /" 400 '{"methodName":"a/b"}'
bad "methodName with a wildcard" 400 '{"methodName":"a#"}'
bad "methodName not a string" 400 '{"methodName":5}'
bad "responseTimeoutInSeconds 4 (below 5)" 400 '{"methodName":"echo","responseTimeoutInSeconds":4}'
bad "responseTimeoutInSeconds 301 (over 300)" 400 '{"methodName":"echo","responseTimeoutInSeconds":301}'
bad "responseTimeoutInSeconds a string" 400 '{"methodName":"echo","responseTimeoutInSeconds":"5"}'
bad "connectTimeoutInSeconds -1" 400 '{"methodName":"echo","connectTimeoutInSeconds":-1}'
bad "connectTimeoutInSeconds 301" 400 '{"methodName":"echo","connectTimeoutInSeconds":301}'
bad "a body that is not JSON" 400 '{"methodName":'
bad "a bad device id" 400 '{"methodName":"echo"}' "/twins/a%20b/methods?$AV"
expect_eq "... each an invalid-field problem naming the field" "/methodName" \
	"$(http POST "$M" "${W[@]}" -d '{"payload":1}'; jq -r .pointer <<<"$BODY")"
big=$(head -c 140000 /dev/zero | tr '\0' a)
printf '{"methodName":"echo","payload":"%s"}' "$big" >"$TMP/big.json"
http POST "$M" "${W[@]}" --data-binary @"$TMP/big.json"
expect_eq "a payload over 128 KB: 413 with IoT Hub's errorCode 413002" "413 413002" "$STATUS $(jq -r .errorCode <<<"$BODY")"
http POST "$M" "${JSON[@]}" -d '{"methodName":"echo"}'
expect_eq "no token: 401" 401 "$STATUS"
http POST "$M" -H "Authorization: Bearer $(token twins:read)" "${JSON[@]}" -d '{"methodName":"echo"}'
expect_eq "a twins:read token: 403 (twins:write invokes methods)" 403 "$STATUS"
expect_eq "... and none of the refused calls reached the device" "$before" "$(calls d1)"
expect_eq "the calls are in the audit trail" t \
	"$(psql_q "SELECT count(*) >= 20 FROM audit_log WHERE route = '/twins/{deviceId}/methods' AND status = 200")"

# telemetry: the SDK's sendEvent (QoS 1, a property bag on the topic) is
# stored and read back by the operator
R=(-H "Authorization: Bearer $(token twins:read)")
http POST "$M" "${W[@]}" -d '{"methodName":"send","payload":{"n":1,"temp":21.5}}'
expect_eq "the SDK's sendEvent succeeds" "200 true" "$STATUS $(jq -r .payload.sent <<<"$BODY")"
for _ in $(seq 1 100); do
	http GET /devices/mm-1/messages "${R[@]}"
	[[ "$(jq '.items | length' <<<"$BODY")" == 1 ]] && break
	sleep 0.05
done
expect_eq "GET /devices/{id}/messages: the message, its system and application properties" 	'200 {"n":1,"temp":21.5} msg-1 application/json utf-8 reading' 	"$STATUS $(jq -r '.items[0] | [.body, .systemProperties.messageId, .systemProperties.contentType, .systemProperties.contentEncoding, .properties.kind] | join(" ")' <<<"$BODY")"
expect_eq "... with an id and an enqueuedTime" true "$(jq -r '.items[0] | (.id > 0) and (.enqueuedTime | test("^20[0-9-]+T[0-9:.]+Z$"))' <<<"$BODY")"
ID1=$(jq -r '.items[0].id' <<<"$BODY")
"${CURL[@]}" "${R[@]}" "$URL/devices/mm-1/messages?after=$ID1&wait=20" >"$TMP/poll.body" &
POLL=$!
for _ in $(seq 1 100); do
	sleeping=$("${CURL[@]}" "$URL/metrics" | grep -o '^orchard_requests_waiting [0-9]*' | cut -d' ' -f2)
	[[ "${sleeping:-0}" -ge 1 ]] && break
	sleep 0.05
done
http POST "$M" "${W[@]}" -d '{"methodName":"send","payload":{"n":2}}'
wait "$POLL"
expect_eq "a long poll (after, wait) gets the next message when it comes" "1 2 msg-2" 	"$(jq -r '[(.items | length), (.items[0].body | fromjson | .n), .items[0].systemProperties.messageId] | join(" ")' "$TMP/poll.body")"
http GET "/devices/mm-1/messages?since=2000-01-01T00:00:00Z&limit=1" "${R[@]}"
expect_eq "since and limit: the first page and its next link" "1 /devices/mm-1/messages?after=$ID1&limit=1" 	"$(jq -r '[(.items | length), .next] | join(" ")' <<<"$BODY")"
http GET "/devices/mm-1/messages?since=2099-01-01T00:00:00Z" "${R[@]}"
expect_eq "since in the future: none" "200 0" "$STATUS $(jq '.items | length' <<<"$BODY")"
for q in after=-1 after=x since=yesterday since=2026-01-01T00:00:00 limit=0 limit=1001 wait=61; do
	http GET "/devices/mm-1/messages?$q" "${R[@]}"
	expect_problem "GET messages?$q: 400" 400 invalid-parameter
done
http GET "/devices/a%20b/messages" "${R[@]}"
expect_eq "a bad device id: 400" 400 "$STATUS"
http GET /devices/mm-1/messages
expect_eq "no token: 401" 401 "$STATUS"
http GET /devices/mm-1/messages -H "Authorization: Bearer $(token enrollments:read)"
expect_eq "a token without twins:read: 403" 403 "$STATUS"

# raw publishes (mosquitto_pub as mm-2): a property bag, a bad one, sizes
pub() { # TOPIC-TAIL FILE
	timeout 10 mosquitto_pub -h "$HUB" -p "$MPORT" --cafile "$TMP/var/pki/root.pem" -i mm-2 -q 1 \
		-u "$HUB/mm-2/?api-version=2021-04-12" -P "$(SKN= dps_sas "$HUB/devices/mm-2" "$KEY_mm_2")" \
		-t "devices/mm-2/messages/events/$1" -f "$2"
}
printf 'hello' >"$TMP/small"
head -c 200000 /dev/zero | tr '\0' b >"$TMP/200k"
head -c 300000 /dev/zero | tr '\0' c >"$TMP/300k"
printf '\377\376bin' >"$TMP/bin"
pub 'a=%zz' "$TMP/small"
pub '%24.mid=m7&%24.ct=text%2Fplain&x=1&sp=a%20b' "$TMP/small"
pub '' "$TMP/200k"
pub '' "$TMP/300k"
pub '' "$TMP/bin"
for _ in $(seq 1 100); do
	http GET /devices/mm-2/messages "${R[@]}"
	[[ "$(jq '.items | length' <<<"$BODY")" -ge 3 ]] && break
	sleep 0.05
done
expect_eq "a bad property bag and a message over 256 KB are dropped; the rest stored" 	"3 hello m7 text/plain 1 a b 200000 //5i" 	"$(jq -r '[(.items | length), .items[0].body, .items[0].systemProperties.messageId, .items[0].systemProperties.contentType, .items[0].properties.x, .items[0].properties.sp, (.items[1].body | length), (.items[2].bodyBase64 | .[0:4])] | join(" ")' <<<"$BODY")"
# the fleet's telemetry in one sequence: GET /messages/events and its stream
"${CURL[@]}" -N "${R[@]}" --max-time 30 "$URL/messages/events/stream" >"$TMP/stream.out" 2>/dev/null &
STREAM=$!
http GET "/messages/events?limit=1000" "${R[@]}"
expect_eq "GET /messages/events: every device's messages, oldest first, each with its deviceId" \
	"5 mm-1,mm-1,mm-2,mm-2,mm-2 true" \
	"$(jq -r '[(.items | length), (.items | map(.deviceId) | join(",")), (.items | map(.id) | . == sort)] | join(" ")' <<<"$BODY")"
LAST=$(jq -r '.items[-1].id' <<<"$BODY")
"${CURL[@]}" "${R[@]}" "$URL/messages/events?after=$LAST&wait=20" >"$TMP/fleet.body" &
POLL=$!
sleep 0.5
pub 'fleet=1' "$TMP/small"
wait "$POLL"
expect_eq "... a long poll after the last id gets the next message, whichever device sent it" "1 mm-2 1" \
	"$(jq -r '[(.items | length), .items[0].deviceId, .items[0].properties.fleet] | join(" ")' "$TMP/fleet.body")"
for _ in $(seq 1 100); do grep -q '"fleet":"1"' "$TMP/stream.out" && break; sleep 0.05; done
kill "$STREAM" 2>/dev/null
wait "$STREAM" 2>/dev/null
expect_eq "GET /messages/events/stream: new messages as server-sent events, id the message's" \
	"1 $((LAST + 1))" "$(grep -c '^event: message' "$TMP/stream.out") $(grep -m1 '^id: ' "$TMP/stream.out" | cut -d' ' -f2)"
expect_eq "... and from Last-Event-ID: 0, every message kept" 6 \
	"$("${CURL[@]}" -N "${R[@]}" --max-time 2 -H 'Last-Event-ID: 0' "$URL/messages/events/stream" 2>/dev/null | grep -c '^event: message')"
http GET "/messages/events?after=x" "${R[@]}"
expect_problem "GET /messages/events?after=x: 400" 400 invalid-parameter
http GET "/messages/events/stream?after=-1" "${R[@]}"
expect_problem "GET /messages/events/stream?after=-1: 400" 400 invalid-parameter
http GET /messages/events -H "Authorization: Bearer $(token enrollments:read)"
expect_eq "a token without twins:read: 403" 403 "$STATUS"

# retention: the newest 1000 per device, none older than 7 days
psql_q "INSERT INTO device_messages (device_id, body, received_at) SELECT 'mm-2', 'x', now() - interval '1 hour' FROM generate_series(1, 1000)" >/dev/null
psql_q "INSERT INTO device_messages (device_id, body, received_at) VALUES ('mm-1', 'old', now() - interval '8 days')" >/dev/null
pub 'last=1' "$TMP/small"
http POST "$M" "${W[@]}" -d '{"methodName":"send","payload":{"n":3}}'
expect_eq "retention: mm-2 keeps its newest 1000 (the new one among them), mm-1 drops what is over 7 days old" "1000|1|0" \
	"$(psql_q "SELECT count(*) FILTER (WHERE device_id = 'mm-2'), count(*) FILTER (WHERE properties ? 'last'), count(*) FILTER (WHERE body = 'old') FROM device_messages")"

# cloud-to-device: an operator's message reaches the SDK's 'message' handler
http POST /devices/mm-1/commands "${W[@]}" -d '{"body":"{\"cmd\":\"blink\"}","messageId":"c2d-1",
	"correlationId":"corr-1","contentType":"application/json","properties":{"prio":"high"}}'
expect_eq "a cloud-to-device message is queued" 201 "$STATUS"
expect "... the SDK's 'message' handler gets it" wait_line "$TMP/d1.out" c2d
expect_eq "... its body, messageId, correlationId, contentType and properties as sent" \
	'{"cmd":"blink"} c2d-1 corr-1 application/json high' \
	"$(grep '"step":"c2d"' "$TMP/d1.out" | head -1 | jq -r '[.data, .messageId, .correlationId, .contentType, .prio] | join(" ")')"
http GET /devices/mm-1/commands "${R[@]}"
expect_eq "... and is listed as delivered" delivered "$(jq -r '.items[0].status' <<<"$BODY")"

# the device leaves: 404 at once again
touch "$TMP/stop-d1"
wait_line "$TMP/d1.out" closed
for _ in $(seq 1 100); do
	http POST "$M" "${W[@]}" -d '{"methodName":"echo"}'
	[[ "$STATUS" == 404 ]] && break
	sleep 0.05
done
expect_eq "after the device disconnects: 404 404103" "404 404103" "$STATUS $(jq -r .errorCode <<<"$BODY")"
touch "$TMP/stop-d2"
for p in "${NPIDS[@]}"; do wait "$p"; done
NPIDS=()
expect_eq "no device key or SAS in the logs" 0 "$(cat "$OLOG" "$TMP/mosquitto.log" | grep -c -e "$KEY_mm_1" -e 'sig=')"
kill "$MPID" && wait "$MPID" 2>/dev/null
MPID=
orchardd_stop
expect_eq "orchardd stops cleanly" 0 $?
expect_eq "no sanitizer report" 0 "$(grep -c 'Sanitizer' "$OLOG")"
tap_done
