#!/bin/bash
# orchardd's own mosquitto (--mqtt-listen / ORCHARD_MQTT_LISTEN): started
# with the plugin on TLS with orchardd's certificate, the backend connected
# to it on its own; a device's SAS is checked (good: connected, bad:
# CONNACK 5); a broker that dies is started again and serves again; the
# broker dies with orchardd, kill -9 included. Skipped without mosquitto.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT
command -v mosquitto >/dev/null || { echo "1..0 # SKIP mosquitto not installed"; exit 0; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MPORT=$(free_port)

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
ORCHARD_MQTT_LISTEN=127.0.0.1:$MPORT orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
connected() { # N: waits for the Nth "mqtt backend connected"
	for _ in $(seq 1 200); do
		(($(grep -c '"msg":"mqtt backend connected"' "$OLOG") >= $1)) && return 0
		sleep 0.05
	done
	return 1
}
expect "ORCHARD_MQTT_LISTEN: orchardd starts mosquitto and connects to it as its backend" connected 1
bpid() { grep '"msg":"mqtt broker started"' "$OLOG" | tail -1 | jq -r .pid; }
B1=$(bpid)
expect_eq "... a mosquitto of its own" mosquitto "$(ps -o comm= -p "$B1")"
expect_eq "... its configuration under the data folder" true \
	"$(grep -q "^listener $MPORT 127.0.0.1" "$TMP/var/mqtt/mosquitto.conf" && grep -q '^plugin .*/orchard_mqtt.so' "$TMP/var/mqtt/mosquitto.conf" && echo true)"

W=(-H "Authorization: Bearer $(token all)" "${JSON[@]}")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
http PUT "/enrollments/mb-1?$AV" "${W[@]}" -d '{"registrationId":"mb-1","attestation":{"type":"symmetricKey"}}'
KEY=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
http PUT "/$SCOPE/registrations/mb-1/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/mb-1" "$KEY")" \
	"${JSON[@]}" -d '{"registrationId":"mb-1"}'
HUB=$(psql_q "SELECT assigned_hub FROM dps_registrations WHERE registration_id = 'mb-1'")
sub() { # KEY: mosquitto_sub's status: 27 connected (then timed out), 5 refused
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$MPORT" --cafile "$TMP/var/pki/root.pem" -i mb-1 \
		-u "$HUB/mb-1/?api-version=2021-04-12" -P "$(SKN= dps_sas "$HUB/devices/mb-1" "$1")" \
		-t '$iothub/twin/res/#' -W 1 -C 1 >/dev/null 2>&1
	echo $?
}
expect_eq "a device with its SAS connects over TLS" 27 "$(sub "$KEY")"
expect_eq "a wrong key: CONNACK 5" 5 "$(sub "$(head -c 32 /dev/urandom | base64 -w0)")"

kill -9 "$B1"
expect "the broker killed: orchardd starts another and connects again" connected 2
B2=$(bpid)
expect_eq "... a new process" true "$([[ -n "$B2" && "$B2" != "$B1" ]] && kill -0 "$B2" && echo true)"
expect_eq "... which serves devices" 27 "$(sub "$KEY")"

orchardd_stop
expect_eq "orchardd stops cleanly (SIGTERM)" 0 $?
for _ in $(seq 1 100); do kill -0 "$B2" 2>/dev/null || break; sleep 0.05; done
expect_eq "... and its broker is gone" gone "$(kill -0 "$B2" 2>/dev/null || echo gone)"

ORCHARD_MQTT_LISTEN=127.0.0.1:$MPORT orchardd_start || tap_nok "orchardd starts again"
expect "started again: a broker again" connected 1
B3=$(bpid)
{ kill -9 "$OPID" && wait "$OPID"; } 2>/dev/null
OPID=
for _ in $(seq 1 100); do kill -0 "$B3" 2>/dev/null || break; sleep 0.05; done
expect_eq "kill -9 orchardd: its broker dies too" gone "$(kill -0 "$B3" 2>/dev/null || echo gone)"
expect_eq "no sanitizer report" 0 "$(cat "$TMP"/orchardd.*.log | grep -c 'Sanitizer')"
tap_done
