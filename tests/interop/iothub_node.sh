#!/bin/bash
# Interop: Microsoft's Azure IoT device SDK for Node.js (azure-iot-device
# with the azure-iot-device-mqtt transport), unmodified, follows its twin
# through Debian's mosquitto with the Orchard plugin (build/orchard_mqtt.so)
# and orchardd as the broker's backend: getTwin, a reported update the
# operator sees, a desired PATCH by the operator pushed to the device, a
# refusal as an error; a second device never sees the first's traffic; bad
# credentials get CONNACK 5; a hostile raw client is held to its own topics
# and its bad twin requests are answered with an error and change nothing.
# The packages are installed once into build/npm-iothub (under a lock);
# without a reachable npm registry the test is skipped.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/npm.sh
. tests/lib/iothub.sh
MPID=
trap '[[ -n "$MPID" ]] && kill "$MPID" 2>/dev/null; [[ -n "${KEEP:-}" ]] && cp "$TMP"/*.out "$TMP"/*.err "$TMP"/*.log /tmp/mqtt-dev/ 2>/dev/null; fixture_cleanup' EXIT

iothub_prepare

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" || { tap_nok "orchardd starts"; tap_done; exit 1; }
broker_start ORCHARD_MQTT_CONNECTION_LOG=true
expect_eq "orchardd connects to mosquitto as its backend" 1 "$(grep -c '"msg":"mqtt backend connected"' "$OLOG")" ||
	cat "$TMP/mosquitto.log" "$OLOG" >&2

# two devices provisioned over DPS (symmetric keys)
W=(-H "Authorization: Bearer $(token all)" "${JSON[@]}")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
for d in mq-1 mq-2 mq-3; do
	http PUT "/enrollments/$d?$AV" "${W[@]}" -d '{"registrationId":"'$d'","attestation":{"type":"symmetricKey"},
		"initialTwin":{"properties":{"desired":{"app":"blink","who":"'$d'"}}}}'
	key=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
	http PUT "/$SCOPE/registrations/$d/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/$d" "$key")" \
		"${JSON[@]}" -d "{\"registrationId\":\"$d\"}"
	expect_eq "$d is enrolled and registers (assigned at once)" 200 "$STATUS"
	declare "KEY_${d/-/_}=$key"
done
HUB=$(psql_q "SELECT assigned_hub FROM dps_registrations WHERE registration_id = 'mq-1'" 2>/dev/null)
HUB=${HUB:-127.0.0.1}

NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
	timeout 60 node tests/interop/iothub_node.js "$MPORT" "$URL" "$(token all)" "$HUB" \
	mq-1 "$KEY_mq_1" mq-2 "$KEY_mq_2" mq-3 "$KEY_mq_3" "$TMP/mosquitto.log" >"$TMP/node.out" 2>"$TMP/node.err"
expect_eq "the SDK ran to the end" 0 $? || cat "$TMP/node.out" "$TMP/node.err" "$TMP/mosquitto.log" >&2
step() { grep "\"step\":\"$1\"" "$TMP/node.out"; }

DV=$(step getTwin | jq -r '.desired["$version"]')
expect_eq "getTwin: the device reads its desired and reported properties with their \$version" "blink mq-1 1 mq-2" \
	"$(step getTwin | jq -r '[.desired.app, .desired.who, .reported["$version"], .other.who] | join(" ")')"
expect_eq "reported update: the operator's GET /twins shows it" "200 1.2.3 21 2" \
	"$(step reported | jq -r '[.status, .reported.firmware, .reported.temp, .reported["$version"]] | join(" ")')"
expect_eq "... and the other device's twin is untouched" "null" "$(step reported | jq -r .other.firmware)"
expect_eq "desired PATCH by the operator reaches the device as a merge patch with its \$version" \
	'200 {"$version":'$((DV + 1))',"app":null,"color":"red"}' "$(step desired | jq -r .status) $(step desired | jq -cS .patch)"
expect_eq "... the stored desired \$version" "$((DV + 1))" "$(psql_q "SELECT desired->'\$version' FROM twins WHERE device_id = 'mq-1'")"
expect_eq "... the SDK's desired now has color and no app" "red null $((DV + 1))" \
	"$(step desired | jq -r '[.local.color, (.local.app // "null"), .local["$version"]] | join(" ")')"
expect_eq "... the second device saw none of it" 0 "$(step desired | jq -r .others)"
expect_eq "a refused reported update is an error in the SDK" true \
	"$(step refused | jq -r '.error != null and (.error | test("4 KB|4096|string"; "i"))')"

expect_eq "after a SAS renewal (the SDK reconnects): desired pushed, reported stored" "true true true true" \
	"$(step renewal | jq -r '[(.connects >= 2), .pushed, (.reportedError == null), (.reported >= 2)] | join(" ")')"
expect_eq "a raw client whose id is not the SAS's device: CONNACK 5" 5 "$(step raw-other-client-id | jq -r .code)"
expect_eq "wrong key, expired SAS, another device's SAS, unknown device, backend name without its secret: CONNACK 5" \
	"5 5 5 5 5" "$(step connack | jq -r '[.wrongKey, .expired, .otherDevice, .unknown, .backendName] | join(" ")')"
expect_eq "another device's topics, #, the backend's topics, twin requests: SUBACK 0x80; its own replies granted" \
	"128 128 128 128 128 0" "$(step suback | jq -r 'del(.step) | [.[]] | join(" ")')"
expect_eq "malformed twin JSON: 400 on the response topic with an errorCode" "400 400001" \
	"$(step bad-input | jq -r '(.bad.t | split("/")[3]) + " " + (.bad.p | fromjson | .errorCode | tostring)')"
expect_eq "too deep and too large: 400 each" "400 400" \
	"$(step bad-input | jq -r '[(.deep.t | split("/")[3]), (.big.t | split("/")[3])] | join(" ")')"
expect_eq "... and nothing changed" true "$(step bad-input | jq -r .unchanged)"
expect_eq "the second device got only its own answer (no forged reply, no desired from another)" \
	"1 mq-2" "$(step bad-input | jq -r '[(.dev2Got | length), .dev2Own.who] | join(" ")')"
expect_eq "a raw reported PATCH: 204 with the new \$version" "204 3" \
	"$(step raw-reported | jq -r '(.topic | split("/")[3]) + " " + (.topic | capture("version=(?<v>[0-9]+)").v)')"
expect_eq "a flood of 300 GETs from one device: all answered, about 100 (the burst) served, the rest 429" "300 true" \
	"$(step flood | jq -r '[.answered, (.ok >= 90 and .ok <= 110 and .ok + .limited == 300)] | join(" ")')"
expect_eq "... another device is served meanwhile" 200 "$(step flood | jq -r .other)"
expect_eq "a device that only subscribed to desired (no GET) gets the change as a patch" \
	'0 200 $iothub/twin/PATCH/properties/desired/?$version='$((DV + 1))' {"$version":'$((DV + 1))',"level":7,"who":null}' \
	"$(step subscribed-only | jq -r '[.granted, .status, .got[0].t] | join(" ")') $(step subscribed-only | jq -r '.got[0].p' | jq -cS .)"
expect_eq "50 sequential reported PATCHes answered 204, 20 operator PATCHes pushed" "50 20" \
	"$(step timing | jq -r '[.reported, .pushes] | join(" ")')"
echo "# $(step timing)"
expect_eq "a connection whose SAS expires: served before, refused after (SUBACK 0x80), then closed" "true 0 128 true" \
	"$(step expiry | jq -r '[.connected, .early, .late, .closed] | join(" ")')"
expect_eq "the device's reported changes are in the twin's history as the device's" "device mq-1" \
	"$(psql_q "SELECT actor_kind || ' ' || actor FROM twin_history WHERE device_id = 'mq-1' AND sections = '{reported}' ORDER BY version LIMIT 1")"
expect_eq "no device key or SAS in the logs" 0 \
	"$(cat "$OLOG" "$TMP/mosquitto.log" | grep -c -e "$KEY_mq_1" -e 'sig=')"

# orchardd goes away under a connected device, and comes back
NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
	timeout 60 node tests/interop/iothub_node_down.js "$MPORT" "$HUB" mq-2 "$KEY_mq_2" "$TMP/down" "$TMP/up" \
	>"$TMP/down.out" 2>"$TMP/down.err" &
NPID=$!
for _ in $(seq 1 200); do grep -q connected "$TMP/down.out" && break; sleep 0.05; done
orchardd_stop
expect_eq "orchardd stops cleanly" 0 $?
expect_eq "no sanitizer report" 0 "$(grep -c 'Sanitizer' "$OLOG")"
touch "$TMP/down"
for _ in $(seq 1 200); do grep -q '"down"' "$TMP/down.out" && break; sleep 0.05; done
timeout 10 mosquitto_sub -h "$HUB" -p "$MPORT" --cafile "$TMP/var/pki/root.pem" -i mq-1 \
	-u "$HUB/mq-1/?api-version=2021-04-12" -P "$(SKN= dps_sas "$HUB/devices/mq-1" "$KEY_mq_1")" \
	-t '$iothub/twin/res/#' -W 2 >/dev/null 2>&1
expect_eq "orchardd down: a new device connection is refused (CONNACK 5), not left hanging" 5 $?
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" || tap_nok "orchardd starts again"
touch "$TMP/up"
for _ in $(seq 1 300); do grep -q '"back"' "$TMP/down.out" && break; sleep 0.05; done
http PATCH /twins/mq-2 "${W[@]}" -d '{"properties":{"desired":{"after":"restart"}}}'
wait "$NPID"
expect_eq "the connected device's run ended" 0 $? || cat "$TMP/down.out" "$TMP/down.err" >&2
expect_eq "before: its twin GET is answered" 200 "$(grep '"connected"' "$TMP/down.out" | jq -r .before)"
expect_eq "orchardd down: its GET is answered 503 by the plugin at once, with an errorCode" "503 503001 true" \
	"$(grep '"down"' "$TMP/down.out" | jq -r '[.status, (.body | fromjson | .errorCode), (.ms < 2000)] | join(" ")')"
expect_eq "orchardd back: the same connection is served again" 204 "$(grep '"back"' "$TMP/down.out" | jq -r .status)"
expect_eq "... and a desired change made after the restart reaches it, though it never GETs again" restart \
	"$(grep '"pushed"' "$TMP/down.out" | jq -r '.got[-1].p | fromjson | .after')"
kill "$MPID" && wait "$MPID" 2>/dev/null
MPID=
orchardd_stop
expect_eq "orchardd stops cleanly again" 0 $?
expect_eq "no sanitizer report" 0 "$(grep -c 'Sanitizer' "$OLOG")"
tap_done
