#!/bin/bash
# orchardd's own mosquitto (--mqtt-listen / ORCHARD_MQTT_LISTEN): started
# with the plugin on TLS with orchardd's certificate, the backend connected
# to it on its own; a device's SAS is checked (good: connected, bad:
# CONNACK 5); with ORCHARD_MQTT_X509_LISTEN a second listener takes X.509
# devices: an Orchard-issued device certificate (`orchardd cert issue
# --profile device-client --san permanent-identifier:ID`) connects and GETs
# its twin, a revoked one, another device's or none is refused; a broker
# that dies is started again and serves again; the broker dies with
# orchardd, kill -9 included; revoking a connected device's certificate,
# or disabling its enrollment, ends its connection at once. Skipped
# without mosquitto.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT
command -v mosquitto >/dev/null || { echo "1..0 # SKIP mosquitto not installed"; exit 0; }
MPORT=$(free_port) XPORT=$(free_port)

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
ORCHARD_MQTT_LISTEN=127.0.0.1:$MPORT ORCHARD_MQTT_X509_LISTEN=$XPORT orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
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

# X.509 devices on ORCHARD_MQTT_X509_LISTEN, with Orchard's own device certificates
D=$TMP/certs
mkdir -p "$D"
cert() { # NAME REGID: a P-256 key and a device-client certificate for REGID
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/$1.key" \
		-subj /CN=ignored -out "$D/$1.csr" 2>/dev/null &&
		"$ORCHARDD" --data-dir "$TMP/var" cert issue --csr "$D/$1.csr" --out "$D/$1.pem" \
			--profile device-client --san "permanent-identifier:$2" 2>"$D/$1.err"
}
twin_get() { # NAME [ID]: a twin GET with NAME's certificate (tests/lib/mqtt_rr.py): "TOPIC BODY", then rc=N
	local c=- k=-
	[[ -n "$1" ]] && c=$D/$1.pem k=$D/$1.key
	timeout 10 python3 tests/lib/mqtt_rr.py 127.0.0.1 "$XPORT" "$TMP/var/pki/root.pem" "$c" "$k" "${2:-mb-1}" "$HUB/${2:-mb-1}/?api-version=2021-04-12" \
		'$iothub/twin/GET/?$rid=7' 2>&1
	echo "rc=$?"
}
expect_eq "ORCHARD_MQTT_X509_LISTEN: a listener that requires a client certificate" true \
	"$(grep -A4 "^listener $XPORT 127.0.0.1" "$TMP/var/mqtt/mosquitto.conf" | grep -q '^require_certificate true' && echo true)"
expect "cert issue: a device-client certificate for mb-1" cert x1 mb-1
expect_eq "an Orchard device certificate over MQTT: twin GET answered 200 with the twin" \
	'$iothub/twin/res/200/?$rid=7 true rc=0' \
	"$(twin_get x1 | { read -r t b; read -r rc; echo "$t $(jq -c 'has("desired") and has("reported")' <<<"$b") $rc"; })"
expect_eq "... on the SAS listener (no certificate asked): CONNACK 5" 5 \
	"$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$MPORT" --cafile "$TMP/var/pki/root.pem" -i mb-1 \
		-u "$HUB/mb-1/?api-version=2021-04-12" -t '$iothub/twin/res/#' -W 1 -C 1 >/dev/null 2>&1; echo $?)"
expect_eq "mb-1's certificate as another device (client id mb-2): CONNACK 5" "rc=5" "$(twin_get x1 mb-2 | tail -1)"
expect_eq "no client certificate: refused by the TLS handshake" "rc=3" "$(twin_get "" | tail -1)"
SERIAL=$(openssl x509 -in "$D/x1.pem" -noout -serial | cut -d= -f2 | awk '{printf "%32s", tolower($0)}' | tr ' ' 0)
expect "cert revoke: mb-1's certificate" "$ORCHARDD" --data-dir "$TMP/var" cert revoke "$SERIAL" --reason keyCompromise
expect_eq "a revoked certificate: refused at CONNECT (CONNACK 5)" "rc=5" "$(twin_get x1 | tail -1)"
expect_eq "... logged as refused by orchardd" true "$(grep '"msg":"mqtt device refused"' "$OLOG" | grep -q '"device":"mb-1"' && echo true)"
expect "a new certificate for mb-1" cert x2 mb-1
expect_eq "... connects again" "rc=0" "$(twin_get x2 | tail -1)"

# --- what orchardd follows: connected devices only -----------------------------------
followed() { "${CURL[@]}" "$URL/metrics" | awk '$1 == "orchard_mqtt_devices_followed" {print $2}'; }
followed_is() { # N: within 5 s
	for _ in $(seq 1 100); do
		[[ "$(followed)" == "$1" ]] && return 0
		sleep 0.05
	done
	return 1
}
listen() { # FILTER: mb-1 (x2) subscribes to FILTER (none: its session's), prints its first message
	MQTT_RR_SUBSCRIBE=$1 MQTT_RR_WAIT=10 timeout 15 python3 tests/lib/mqtt_rr.py 127.0.0.1 "$XPORT" \
		"$TMP/var/pki/root.pem" "$D/x2.pem" "$D/x2.key" mb-1 "$HUB/mb-1/?api-version=2021-04-12" - \
		>"$TMP/listen.out" 2>&1 &
	LPID=$!
}
desired_n() { # N: an operator sets desired.n; LOUT: the listener's status and message
	http PATCH /twins/mb-1 "${W[@]}" -d "{\"properties\":{\"desired\":{\"n\":$1}}}"
	wait "$LPID"
	LOUT="rc=$? $(cut -d' ' -f2- "$TMP/listen.out" | jq -c '{n, v: ."$version"}' 2>&1)"
}
expect "devices that read their twin and left are not followed (no memory kept for them)" followed_is 0
listen '$iothub/twin/PATCH/properties/desired/#'
expect "a device listening for desired patches is followed" followed_is 1
http GET /twins/mb-1 "${W[@]}"
V=$(($(jq '.properties.desired."$version"' <<<"$BODY") + 1))
desired_n 1
expect_eq "... and gets the change" "rc=0 {\"n\":1,\"v\":$V}" "$LOUT"
expect "... it left: not followed" followed_is 0
listen ''
expect "its persistent session back, without subscribing again: followed again" followed_is 1
desired_n 2
expect_eq "... and gets the next change" "rc=0 {\"n\":2,\"v\":$((V + 1))}" "$LOUT"
expect "... it left again: not followed" followed_is 0

# --- a revoked certificate ends its connection ------------------------------------------
listen '$iothub/twin/PATCH/properties/desired/#'
expect "(mb-1 connected with its second certificate)" followed_is 1
S2=$(openssl x509 -in "$D/x2.pem" -noout -serial | cut -d= -f2 | awk '{printf "%32s", tolower($0)}' | tr ' ' 0)
t0=$(date +%s%N)
"$ORCHARDD" --data-dir "$TMP/var" cert revoke "$S2" >/dev/null 2>&1
wait "$LPID"
rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "revoking a connected device's certificate ends its connection at once" "rc=3 true" \
	"rc=$rc $(((ms < 3000)) && echo true)"
expect "... and the broker says why (its log is orchardd's stderr)" \
	grep -q 'mb-1: certificate revoked, disconnected' "$OLOG"

# --- a disabled enrollment ends its devices' connections -------------------------------
enrollment() { # STATUS: mb-1's enrollment, keys kept, set enabled or disabled
	http GET "/enrollments/mb-1?$AV" "${W[@]}"
	http PUT "/enrollments/mb-1?$AV" "${W[@]}" -d "$(jq -c --arg s "$1" '.provisioningStatus = $s' <<<"$BODY")"
}
MQTT_RR_PASSWORD=$(SKN= dps_sas "$HUB/devices/mb-1" "$KEY") MQTT_RR_WAIT=10 timeout 15 python3 tests/lib/mqtt_rr.py \
	127.0.0.1 "$MPORT" "$TMP/var/pki/root.pem" - - mb-1 "$HUB/mb-1/?api-version=2021-04-12" - >/dev/null 2>&1 &
LPID=$!
sleep 1
t0=$(date +%s%N)
enrollment disabled
expect_eq "(mb-1's enrollment disabled)" "200 disabled" "$STATUS $(jq -r .provisioningStatus <<<"$BODY")"
wait "$LPID"
rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "disabling a connected device's enrollment ends its connection at once" "rc=3 true" \
	"rc=$rc $(((ms < 3000)) && echo true)"
expect "... and the broker says why" grep -q 'mb-1: enrollment disabled, disconnected' "$OLOG"
expect_eq "... it cannot connect again (CONNACK 5)" 5 "$(sub "$KEY")"
enrollment enabled
expect_eq "enabled again: it connects" 27 "$(sub "$KEY")"

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
