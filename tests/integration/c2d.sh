#!/bin/bash
# Cloud-to-device messages: POST/GET/DELETE /devices/{id}/commands
# and their delivery over MQTT by orchardd's own broker: to a listening
# device at once, to one that reconnects its persistent session later, never
# once expired; every refusal (queue full, too large, bad fields, unknown
# device) changes nothing. A raw MQTT client (tests/lib/mqtt_rr.py) with an
# Orchard device certificate plays the device. Skipped without mosquitto.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT
command -v mosquitto >/dev/null || { echo "1..0 # SKIP mosquitto not installed"; exit 0; }

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_mqtt_start || { tap_nok "orchardd and its broker start"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token all)" "${JSON[@]}")
R=(-H "Authorization: Bearer $(token twins:read)" "${JSON[@]}")
Q=/devices/c-1/commands
rows() { psql_q "SELECT count(*) FROM c2d_messages"; }
send() { http POST "$Q" "${W[@]}" -d "$1"; }

# A device registered over DPS, and an Orchard device certificate for it.
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
http PUT "/enrollments/c-1?$AV" "${W[@]}" -d '{"registrationId":"c-1","attestation":{"type":"symmetricKey"}}'
KEY=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
http PUT "/$SCOPE/registrations/c-1/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/c-1" "$KEY")" \
	"${JSON[@]}" -d '{"registrationId":"c-1"}'
HUB=$(psql_q "SELECT assigned_hub FROM dps_registrations WHERE registration_id = 'c-1'")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/c.key" \
	-subj /CN=c-1 -out "$TMP/c.csr" 2>/dev/null
"$ORCHARDD" --data-dir "$TMP/var" cert issue --csr "$TMP/c.csr" --out "$TMP/c.pem" \
	--profile device-client --san permanent-identifier:c-1 >/dev/null 2>&1
expect "orchardd's broker is up, orchardd its backend" orchardd_mqtt_up

# listen FILTER [WAIT]: c-1 subscribes to FILTER (none: its persistent
# session's) and prints its first message, in the background.
listen() {
	MQTT_RR_SUBSCRIBE=$1 MQTT_RR_WAIT=${2:-10} timeout 20 python3 tests/lib/mqtt_rr.py 127.0.0.1 "$XPORT" \
		"$TMP/var/pki/root.pem" "$TMP/c.pem" "$TMP/c.key" c-1 "$HUB/c-1/?api-version=2021-04-12" - \
		>"$TMP/listen.out" 2>&1 &
	LPID=$!
}
heard() { # HEARD: the listener's status, then "TOPIC BODY"
	wait "$LPID"
	HEARD="rc=$? $(tr -d '\0' <"$TMP/listen.out")"
}

# --- refusals: each changes nothing -------------------------------------------------
http POST /devices/nobody/commands "${W[@]}" -d '{"body":"x"}'
expect_problem "an unknown device: 404" 404 twin-device-unknown
http POST "/devices/a%20b/commands" "${W[@]}" -d '{"body":"x"}'
expect_problem "a bad device id: 400" 400 twin-bad-device-id
send '{"body":"x","bodyBase64":"eA=="}'
expect_problem "body and bodyBase64 both: 400" 400 invalid-field
send '{}'
expect_problem "neither: 400" 400 invalid-field
send '{"bodyBase64":"!!"}'
expect_problem "bodyBase64 not base64: 400" 400 invalid-field
send '{"body":"x","properties":{"n":1}}'
expect_problem "a property that is not a string: 400" 400 invalid-field
send '{"body":"x","properties":{"$.mid":"m"}}'
expect_problem "a property named like a system property (\$...): 400" 400 invalid-field
send '{"body":"x","ttlSeconds":0}'
expect_problem "ttlSeconds 0: 400" 400 invalid-field
send '{"body":"x","ttlSeconds":172801}'
expect_problem "ttlSeconds over 48 h: 400" 400 invalid-field
send "{\"body\":\"$(head -c 65537 /dev/zero | tr '\0' x)\"}"
expect_problem "a body over 64 KB: 413" 413 c2d-too-large
send "{\"body\":\"x\",\"properties\":{\"k\":\"$(head -c 3000 /dev/zero | tr '\0' '/')\"}}"
expect_problem "properties over 8000 bytes on the topic (percent-encoded): 413" 413 c2d-too-large
http POST "$Q" "${R[@]}" -d '{"body":"x"}'
expect_problem "a twins:read token cannot send" 403 forbidden-scope
expect_eq "... none of these stored anything" 0 "$(rows)"

# --- the queue ----------------------------------------------------------------------
send '{"body":"hello","messageId":"m-1","properties":{"k":"v w"}}'
expect_eq "a message is queued: 201" "201 queued" "$STATUS $(jq -r .status <<<"$BODY")"
ID1=$(jq -r .id <<<"$BODY")
http GET "$Q" "${R[@]}"
expect_eq "... listed as queued, with its body and properties" \
	"queued hello m-1 v w" "$(jq -r '.items[0] | "\(.status) \(.body) \(.systemProperties.messageId) \(.properties.k)"' <<<"$BODY")"
for i in $(seq 2 50); do send "{\"body\":\"$i\"}"; done
expect_eq "50 queued" 50 "$(rows)"
send '{"body":"51"}'
expect_problem "the 51st: 403, the queue is full (IoT Hub's 50)" 403 c2d-queue-full
expect_eq "... and not stored" 50 "$(rows)"
http DELETE "$Q" "${W[@]}"
expect_eq "DELETE purges what waits" "200 50" "$STATUS $(jq -r .totalMessagesPurged <<<"$BODY")"
expect_eq "... nothing left" 0 "$(rows)"
http DELETE /devices/nobody/commands "${W[@]}"
expect_problem "a purge for an unknown device: 404" 404 twin-device-unknown

# --- delivery over MQTT ---------------------------------------------------------------
listen 'devices/c-1/messages/devicebound/#'
sleep 0.5
send '{"body":"to you","messageId":"m-2","correlationId":"c-9","properties":{"k":"v w"}}'
heard
expect_eq "a listening device gets the message at once" "rc=0 to you" "$(cut -d' ' -f1,3- <<<"$HEARD")"
topic=$(cut -d' ' -f2 <<<"$HEARD")
expect_eq "... on its devicebound topic with IoT Hub's property bag" true \
	"$([[ "$topic" == devices/c-1/messages/devicebound/* && "$topic" == *%24.mid=m-2* && "$topic" == *%24.cid=c-9* && "$topic" == *k=v%20w* && "$topic" == *%24.to=%2Fdevices%2Fc-1%2Fmessages%2Fdevicebound* ]] && echo true)"
http GET "$Q" "${R[@]}"
expect_eq "... and is listed as delivered" "delivered true" \
	"$(jq -r '.items[-1] | "\(.status) \(.deliveredTime != null)"' <<<"$BODY")"

send '{"body":"while away"}'
http GET "$Q" "${R[@]}"
expect_eq "sent while the device is away: queued" queued "$(jq -r '.items[-1].status' <<<"$BODY")"
listen ''
heard
expect_eq "its persistent session back, without subscribing again: it gets it" "rc=0 while away" \
	"$(cut -d' ' -f1,3- <<<"$HEARD")"

send '{"body":"too late","ttlSeconds":1}'
sleep 2
http GET "$Q" "${R[@]}"
expect_eq "a message past its ttl is listed as expired" expired "$(jq -r '.items[-1].status' <<<"$BODY")"
listen '' 2
heard
expect_eq "... and never delivered" "rc=4" "${HEARD%% *}"

send '{"bodyBase64":"AAEC/w=="}'
listen ''
heard
expect_eq "a binary body arrives as its bytes" "rc=0 000102ff" \
	"${HEARD%% *} $(cut -d' ' -f2- "$TMP/listen.out" | head -c 4 | od -An -tx1 | tr -d ' \n')"

MQTT_RR_CLEAN=1 listen '' 2
sleep 0.5
send '{"body":"for a listener"}'
heard
expect_eq "a clean session that subscribed to nothing gets nothing" "rc=4" "${HEARD%% *}"
http GET "$Q" "${R[@]}"
expect_eq "... the message stays queued" queued "$(jq -r '.items[-1].status' <<<"$BODY")"
listen 'devices/c-1/messages/devicebound/#'
heard
expect_eq "... until the device subscribes" "rc=0 for a listener" "$(cut -d' ' -f1,3- <<<"$HEARD")"

orchardd_stop
expect_eq "orchardd exits 0" 0 "$?"
expect_eq "no sanitizer report" 0 "$(cat "$TMP"/orchardd.*.log | grep -c 'Sanitizer')"

# --- leaks: a delivery, the refusals and a purge under valgrind (plain build only) ---
if [[ "$BUILD" == build ]]; then
	VALGRIND=1 orchardd_mqtt_start
	listen 'devices/c-1/messages/devicebound/#' 20
	sleep 1
	send '{"body":"under valgrind","properties":{"k":"v"}}'
	heard
	expect_eq "under valgrind: delivered" "rc=0 under valgrind" "$(cut -d' ' -f1,3- <<<"$HEARD")"
	send '{"body":"x","properties":{"n":1}}'
	send "{\"body\":\"$(head -c 65537 /dev/zero | tr '\0' x)\"}"
	http POST /devices/nobody/commands "${W[@]}" -d '{"body":"x"}'
	send '{"body":"queued"}'
	http GET "$Q" "${R[@]}"
	http DELETE "$Q" "${W[@]}"
	orchardd_stop
	rc=$?
	expect_eq "no leaks or memory errors under valgrind" 0 "$rc"
	[[ $rc != 0 ]] && head -50 "$TMP/valgrind.log" >&2
fi
tap_done
