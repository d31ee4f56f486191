#!/bin/bash
# Interop: two orchardd (one PostgreSQL) serve one mosquitto with the
# Orchard plugin, which asks either one's credential socket
# (plugin_opt_socket lists both) and lets both connect as backends (their
# secret is in the database). The unmodified Node SDK device reads and
# reports its twin; a desired PATCH made on either orchardd reaches it
# exactly once, as does a cloud-to-device message sent on either; a
# direct method invoked on either is answered; with one
# orchardd stopped, the other serves it all, and a new device still
# connects (its SAS checked by the orchardd that is left); started again,
# it serves beside the other.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/npm.sh
. tests/lib/iothub.sh
MPID= NPIDS=() OPID_A= OPID_B=
trap '[[ -n "$MPID" ]] && kill "$MPID" 2>/dev/null; for p in "${NPIDS[@]}" $OPID_A $OPID_B; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done; fixture_cleanup' EXIT

iothub_prepare

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" || { tap_nok "orchardd A starts"; tap_done; exit 1; }
OPID_A=$OPID OLOG_A=$OLOG URL_A=$URL
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" --mqtt-socket "$TMP/var/run/mqtt-b.sock" ||
	{ tap_nok "orchardd B starts"; tap_done; exit 1; }
OPID_B=$OPID OLOG_B=$OLOG URL_B=$URL
ORCHARD_MQTT_SOCKETS="$TMP/var/run/mqtt.sock $TMP/var/run/mqtt-b.sock" \
	scripts/mqtt-broker "$TMP/var" "$MPORT" "$BPORT" "$ROOT/$BUILD/orchard_mqtt.so" 2>"$TMP/mosquitto.log" &
MPID=$!
connected() { grep -c '"msg":"mqtt backend connected"' "$1"; }
for _ in $(seq 1 200); do
	[[ $(connected "$OLOG_A") -ge 1 && $(connected "$OLOG_B") -ge 1 ]] && break
	sleep 0.05
done
expect_eq "both orchardd connect to the broker as backends (one secret, from the database)" "1 1" \
	"$(connected "$OLOG_A") $(connected "$OLOG_B")" || cat "$TMP/mosquitto.log" >&2
expect_eq "... stored once" 1 "$(psql_q "SELECT count(*) FROM dps_settings WHERE name = 'mqtt_backend_secret'")"
expect_eq "... and in no log line" 0 "$(cat "$OLOG_A" "$OLOG_B" "$TMP/mosquitto.log" |
	grep -c "$(psql_q "SELECT value FROM dps_settings WHERE name = 'mqtt_backend_secret'")")"

on() { URL=$1; shift; http "$@"; }
W=(-H "Authorization: Bearer $(token all)" "${JSON[@]}")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
for d in mt-1 mt-2; do
	on "$URL_A" PUT "/enrollments/$d?$AV" "${W[@]}" -d '{"registrationId":"'$d'","attestation":{"type":"symmetricKey"},
		"initialTwin":{"properties":{"desired":{"k":"0"}}}}'
	key=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
	on "$URL_B" PUT "/$SCOPE/registrations/$d/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/$d" "$key")" \
		"${JSON[@]}" -d "{\"registrationId\":\"$d\"}"
	expect_eq "$d registers over DPS" 200 "$STATUS"
	declare "KEY_${d/-/_}=$key"
done
HUB=$(psql_q "SELECT assigned_hub FROM dps_registrations WHERE registration_id = 'mt-1'")
HUB=${HUB:-127.0.0.1}

device() { # DEV KEY NAME
	NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
		timeout 120 node tests/interop/iothub_multi.js "$MPORT" "$HUB" "$1" "$2" "$TMP/stop" \
		>"$TMP/$3.out" 2>"$TMP/$3.err" &
	NPIDS+=($!)
}
wait_for() { # FILE JQ-FILTER: a line it selects
	for _ in $(seq 1 300); do
		[[ -n $(jq -c "select($2)" "$1" 2>/dev/null) ]] && return 0
		sleep 0.05
	done
	return 1
}
patches() { jq -c "select(.step == \"desired\" and .patch.k == \"$2\")" "$TMP/$1.out" | wc -l; }
M="/twins/mt-1/methods?$AV"

device mt-1 "$KEY_mt_1" d1
wait_for "$TMP/d1.out" '.step == "ready"'
expect_eq "the SDK device opens and reads its twin (getTwin)" '"0"' \
	"$(jq -c 'select(.step == "twin") | .desired.k' "$TMP/d1.out")" || cat "$TMP/d1.out" "$TMP/d1.err" >&2

on "$URL_A" PATCH /twins/mt-1 "${W[@]}" -d '{"properties":{"desired":{"k":"a"}}}'
wait_for "$TMP/d1.out" '.step == "desired" and .patch.k == "a"'
on "$URL_B" PATCH /twins/mt-1 "${W[@]}" -d '{"properties":{"desired":{"k":"b"}}}'
wait_for "$TMP/d1.out" '.step == "desired" and .patch.k == "b"'
on "$URL_A" POST "$M" "${W[@]}" -d '{"methodName":"twin"}'
expect_eq "a method invoked on orchardd A: answered (the device GETs its twin: the latest desired)" "200 200 b" \
	"$STATUS $(jq -r '[.status, .payload.desired.k] | join(" ")' <<<"$BODY")"
on "$URL_B" POST "$M" "${W[@]}" -d '{"methodName":"report","payload":{"fw":"2"}}'
expect_eq "a method invoked on orchardd B: answered (the device's reported update succeeded)" "200 200 null" \
	"$STATUS $(jq -r '[.status, (.payload.error // "null")] | join(" ")' <<<"$BODY")"
on "$URL_A" GET /twins/mt-1 "${W[@]}"
expect_eq "... its reported update is in the twin" 2 "$(jq -r .properties.reported.fw <<<"$BODY")"
expect_eq "a desired PATCH on A and one on B each reached the device exactly once" "1 1" "$(patches d1 a) $(patches d1 b)"
on "$URL_A" POST /devices/mt-1/commands "${W[@]}" -d '{"body":"via A"}'
on "$URL_B" POST /devices/mt-1/commands "${W[@]}" -d '{"body":"via B"}'
c2ds() { jq -c "select(.step == \"c2d\" and .data == \"$2\")" "$TMP/$1.out" | wc -l; }
wait_for "$TMP/d1.out" '.step == "c2d" and .data == "via A"'
wait_for "$TMP/d1.out" '.step == "c2d" and .data == "via B"'
sleep 0.5 # a second copy would come within this
expect_eq "a cloud-to-device message sent on A and one on B each reached the device exactly once" "1 1" \
	"$(c2ds d1 'via A') $(c2ds d1 'via B')"

# orchardd A stops: B serves everything
kill -TERM "$OPID_A"
wait "$OPID_A"
OPID_A=
on "$URL_B" PATCH /twins/mt-1 "${W[@]}" -d '{"properties":{"desired":{"k":"c"}}}'
expect "A stopped: a desired PATCH on B reaches the device" wait_for "$TMP/d1.out" '.step == "desired" and .patch.k == "c"'
on "$URL_B" POST "$M" "${W[@]}" -d '{"methodName":"twin"}'
expect_eq "... a method on B is answered, the device's twin GET too" "200 200 c" \
	"$STATUS $(jq -r '[.status, .payload.desired.k] | join(" ")' <<<"$BODY")"
on "$URL_B" POST "$M" "${W[@]}" -d '{"methodName":"report","payload":{"fw":"3"}}'
on "$URL_B" GET /twins/mt-1 "${W[@]}"
expect_eq "... a reported update is stored" 3 "$(jq -r .properties.reported.fw <<<"$BODY")"
device mt-2 "$KEY_mt_2" d2
expect "... a new device connects (its SAS checked by B, the plugin's next socket)" wait_for "$TMP/d2.out" '.step == "ready"' ||
	cat "$TMP/d2.out" "$TMP/d2.err" "$TMP/mosquitto.log" >&2
on "$URL_B" POST "/twins/mt-2/methods?$AV" "${W[@]}" -d '{"methodName":"twin"}'
expect_eq "... and is served: a method call answered with its twin" "200 200 0" \
	"$STATUS $(jq -r '[.status, .payload.desired.k] | join(" ")' <<<"$BODY")"

# A back: it joins (hello) and serves again beside B
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" || tap_nok "orchardd A starts again"
OPID_A=$OPID URL_A=$URL
for _ in $(seq 1 200); do [[ $(connected "$OLOG") -ge 1 ]] && break; sleep 0.05; done
expect_eq "A started again connects as a backend" 1 "$(connected "$OLOG")"
on "$URL_A" PATCH /twins/mt-1 "${W[@]}" -d '{"properties":{"desired":{"k":"d"}}}'
expect "... a desired PATCH on it reaches the device" wait_for "$TMP/d1.out" '.step == "desired" and .patch.k == "d"'
on "$URL_A" POST "$M" "${W[@]}" -d '{"methodName":"twin"}'
expect_eq "... a method on it is answered" "200 200 d" "$STATUS $(jq -r '[.status, .payload.desired.k] | join(" ")' <<<"$BODY")"
expect_eq "every desired change reached the device exactly once" "1 1 1 1" \
	"$(patches d1 a) $(patches d1 b) $(patches d1 c) $(patches d1 d)"

touch "$TMP/stop"
wait "${NPIDS[@]}"
expect_eq "no sanitizer report" 0 "$(cat "$TMP"/orchardd.*.log | grep -c 'Sanitizer')"
tap_done
