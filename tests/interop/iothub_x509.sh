#!/bin/bash
# Interop: X.509 devices over MQTT. Devices enrolled in DPS with X.509 (an
# individual enrollment pinning a self-signed certificate, a group whose
# signing CA issued the device's) register over DPS with their certificate,
# then connect to mosquitto's X.509 listener (require_certificate) with no
# password: the plugin hands the certificate to orchardd, which decides
# with the HTTPS device API's own X.509 check (hub_x509_verify). The
# unmodified Node SDK (x509=true) reads and reports its twin, gets a
# desired push and answers a direct method. Refused: another device's
# certificate (CN), an unpinned certificate, an unknown device, a
# certificate the broker does not trust. Skipped without node/npm/mosquitto.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/npm.sh
. tests/lib/iothub.sh
MPID=
trap '[[ -n "$MPID" ]] && kill "$MPID" 2>/dev/null; fixture_cleanup' EXIT
DV="api-version=2019-03-31"

iothub_prepare

P=$TMP/pki
mkdir -p "$P"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/$1.key" 2>/dev/null; }
selfsigned() { # NAME CN
	key "$1" && openssl req -x509 -new -key "$P/$1.key" -subj "/CN=$2" -days 30 -out "$P/$1.pem" 2>/dev/null
}
leaf() { # NAME CN CA
	key "$1" && openssl req -new -key "$P/$1.key" -subj "/CN=$2" -out "$P/$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$P/$1.csr" -CA "$P/$3.pem" -CAkey "$P/$3.key" -CAcreateserial -days 30 \
			-extfile <(printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') \
			-out "$P/$1.pem" 2>/dev/null
}
key root && openssl req -x509 -new -key "$P/root.key" -subj /CN=x509-test-root -days 30 \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign -out "$P/root.pem" 2>/dev/null
selfsigned ind xdev-1     # pinned by xdev-1's individual enrollment
selfsigned ind2 xdev-1    # trusted by the broker, but not pinned
selfsigned stranger xdev-1 # not even trusted by the broker
leaf g1 xgrp-1 root
leaf g9 xgrp-9 root       # never registered
expect "the test PKI was made" test -s "$P/g9.pem" -a -s "$P/ind.pem"

XPORT=$(free_port)
pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --mqtt-broker "127.0.0.1:$BPORT" || { tap_nok "orchardd starts"; tap_done; exit 1; }
cat "$TMP/var/pki/root.pem" "$P/root.pem" "$P/ind.pem" "$P/ind2.pem" >"$P/broker-cas.pem"
ORCHARD_MQTT_X509_LISTEN=$XPORT ORCHARD_MQTT_X509_CAFILE=$P/broker-cas.pem \
	scripts/mqtt-broker "$TMP/var" "$MPORT" "$BPORT" "$ROOT/$BUILD/orchard_mqtt.so" 2>"$TMP/mosquitto.log" &
MPID=$!
for _ in $(seq 1 200); do
	grep -q '"msg":"mqtt backend connected"' "$OLOG" && break
	sleep 0.05
done
expect_eq "orchardd connects to mosquitto as its backend" 1 "$(grep -c '"msg":"mqtt backend connected"' "$OLOG")"

W=(-H "Authorization: Bearer $(token all)" "${JSON[@]}")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
pemj() { jq -Rs . <"$1"; }
http PUT "/enrollments/xdev-1?$AV" "${W[@]}" -d '{"registrationId":"xdev-1",
	"attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":'"$(pemj "$P/ind.pem")"'}}}},
	"initialTwin":{"properties":{"desired":{"app":"x509-app"}}}}'
expect_eq "an individual X.509 enrollment pins the device's certificate" 200 "$STATUS"
http PUT "/enrollmentGroups/xgrp?$AV" "${W[@]}" -d '{"enrollmentGroupId":"xgrp",
	"attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"certificate":'"$(pemj "$P/root.pem")"'}}}}}'
expect_eq "an X.509 group names its signing CA" 200 "$STATUS"
for d in ind:xdev-1 g1:xgrp-1; do
	n=${d%%:*} id=${d#*:}
	http PUT "/$SCOPE/registrations/$id/register?$DV" "${JSON[@]}" --cert "$P/$n.pem" --key "$P/$n.key" \
		-d '{"registrationId":"'"$id"'"}'
	expect_eq "$id registers over DPS with its certificate" 200 "$STATUS"
done
HUB=$(psql_q "SELECT assigned_hub FROM dps_registrations WHERE registration_id = 'xdev-1'")
HUB=${HUB:-127.0.0.1}

NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
	timeout 60 node tests/interop/iothub_x509.js "$XPORT" "$HUB" xdev-1 "$P/ind.pem" "$P/ind.key" "$URL" "$(token all)" \
	>"$TMP/node.out" 2>"$TMP/node.err"
expect_eq "the SDK with x509=true ran to the end" 0 $? || cat "$TMP/node.out" "$TMP/node.err" "$TMP/mosquitto.log" >&2
step() { grep "\"step\":\"$1\"" "$TMP/node.out"; }
expect_eq "getTwin over an X.509 connection" x509-app "$(step getTwin | jq -r .desired.app)"
expect_eq "its reported update is stored" "200 x509-1.0" "$(step reported | jq -r '[.status, .fw] | join(" ")')"
expect_eq "an operator's desired PATCH reaches it" "200 blue" "$(step desired | jq -r '[.status, .color] | join(" ")')"
expect_eq "it answers a direct method" "200 200 42" "$(step method | jq -r '[.status, .body.status, .body.payload.pong] | join(" ")')"
expect_eq "the reported change is the device's in the twin history" "device xdev-1" \
	"$(psql_q "SELECT actor_kind || ' ' || actor FROM twin_history WHERE device_id = 'xdev-1' AND sections = '{reported}' LIMIT 1")"

# sub NAME CLIENTID: a raw connection with certificate NAME, no password;
# prints mosquitto_sub's exit status (0: connected, 5: CONNACK refused...)
sub() {
	timeout 10 mosquitto_sub -h "$HUB" -p "$XPORT" --cafile "$TMP/var/pki/root.pem" --cert "$P/$1.pem" --key "$P/$1.key" \
		-i "$2" -u "$HUB/$2/?api-version=2021-04-12" -t '$iothub/twin/res/#' -W 1 -C 1 >/dev/null 2>"$TMP/sub.err"
	echo $?
}
expect_eq "a group device's certificate (issued by the signing CA) connects" 27 "$(sub g1 xgrp-1)"
expect_eq "xdev-1's certificate as client id xgrp-1: CONNACK 5" 5 "$(sub ind xgrp-1)"
expect_eq "a certificate the broker trusts but the enrollment does not pin: CONNACK 5" 5 "$(sub ind2 xdev-1)"
expect_eq "a certificate for a device never registered: CONNACK 5" 5 "$(sub g9 xgrp-9)"
expect_eq "a certificate the broker does not trust: no connection" true "$([[ $(sub stranger xdev-1) != 27 ]] && echo true)"
timeout 10 mosquitto_sub -h "$HUB" -p "$XPORT" --cafile "$TMP/var/pki/root.pem" -i xdev-1 \
	-u "$HUB/xdev-1/?api-version=2021-04-12" -t '$iothub/twin/res/#' -W 1 -C 1 >/dev/null 2>&1
expect_eq "no certificate at all on the X.509 port: no connection" true "$([[ $? != 27 ]] && echo true)"
expect_eq "orchardd logged each refusal with its reason (another's CN, unpinned, unknown)" \
	"xgrp-1 twin-device-forbidden xdev-1 twin-device-unauthorized xgrp-9 twin-device-unknown" \
	"$(grep '"mqtt device refused"' "$OLOG" | jq -r '.device + " " + (.why | sub(".*/"; ""))' | tr '\n' ' ' | sed 's/ $//')"
kill "$MPID" && wait "$MPID" 2>/dev/null
MPID=
orchardd_stop
expect_eq "orchardd stops cleanly" 0 $?
expect_eq "no sanitizer report" 0 "$(grep -c 'Sanitizer' "$OLOG")"
tap_done
