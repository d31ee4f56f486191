#!/bin/bash
# Device twins with Orchard's own device certificates over mutual TLS: a
# device-client certificate whose PermanentIdentifier is a device's DPS
# registration ID (issued through pki_issue() by `orchardd cert issue`, and
# recorded) reads and writes that device's twin with curl --cert/--key, the
# device named by its registration's deviceId. Refused, each with nothing
# changed: another device's twin (403), a revoked certificate, an expired
# one, one from another CA with the same names, an ACME-style certificate
# for a DNS name, a server-only certificate, two PermanentIdentifiers (401).
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
. "$(dirname "$0")/../lib/dps.sh"
trap fixture_cleanup EXIT
J=(-H 'Content-Type: application/json')
jqb() { jq -r "$1" <<<"$BODY"; }
snapshot() { psql_q "SELECT string_agg(etag || version, ' ' ORDER BY device_id) FROM twins"; }
D=$TMP/certs
mkdir -p "$D"

pg_start || exit 1
orchardd_start || exit 1
W=(-H "Authorization: Bearer $(token all)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
AV="api-version=2021-10-01"

# --- three registered devices; reg-c's device ID is pump-c -------------------
enrol() { # REGID [DEVICEID]
	http PUT "/enrollments/$1?$AV" "${W[@]}" "${J[@]}" -d '{"registrationId":"'"$1"'",
		"attestation":{"type":"symmetricKey"},'"${2:+\"deviceId\":\"$2\",}"'
		"initialTwin":{"properties":{"desired":{"app":"'"$1"'"}}}}'
	local key
	key=$(jqb .attestation.symmetricKey.primaryKey)
	http PUT "/$SCOPE/registrations/$1/register?$AV" -H "Authorization: $(dps_sas "$SCOPE/registrations/$1" "$key")" \
		"${J[@]}" -d "{\"registrationId\":\"$1\"}"
}
enrol dev-a
expect_eq "dev-a registers" "200 assigned" "$STATUS $(jqb .status)"
enrol dev-b
enrol reg-c pump-c
expect_eq "reg-c registers as device pump-c" "200 assigned pump-c" "$STATUS $(jqb .status) $(jqb .registrationState.deviceId)"

# cert NAME ARGS...: a P-256 key and a certificate from `orchardd cert issue`
cert() {
	local name=$1
	shift
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/$name.key" \
		-subj /CN=ignored -out "$D/$name.csr" 2>/dev/null &&
		"$ORCHARDD" --data-dir "$TMP/var" cert issue --csr "$D/$name.csr" --out "$D/$name.pem" "$@" 2>"$D/$name.err"
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | awk '{printf "%32s", tolower($0)}' | tr ' ' 0; }
as() { # NAME METHOD PATH [curl args]: a request with NAME's certificate, no Authorization
	local name=$1 m=$2 p=$3
	shift 3
	http "$m" "$p" --cert "$D/$name.pem" --key "$D/$name.key" "$@"
}

expect "cert issue: a device-client certificate with PermanentIdentifier dev-a" \
	cert a --profile device-client --san permanent-identifier:dev-a
expect "it carries the otherName" grep -q "permanentIdentifier:dev-a" "$D/a.err"
as a GET /devices/dev-a/twin
expect_eq "dev-a's certificate reads dev-a's twin (no Authorization)" "200 dev-a dev-a null" \
	"$STATUS $(jqb .deviceId) $(jqb .properties.desired.app) $(jqb .tags)"
as a PATCH /devices/dev-a/twin/reported "${J[@]}" -d '{"agent":"up"}'
expect_eq "and writes its reported properties" "200 up 2" "$STATUS $(jqb .agent) $(jqb '.["$version"]')"
expect "the twin's history names the writer" test "$(psql_q "SELECT count(*) FROM twin_history WHERE device_id = 'dev-a'")" -ge 1

expect "cert issue: one for registration reg-c" cert c --profile device-client --san permanent-identifier:reg-c
as c GET /devices/pump-c/twin
expect_eq "reg-c's certificate reads the twin of its device ID pump-c" "200 pump-c" "$STATUS $(jqb .deviceId)"

expect "cert issue: one with DPS's URI for dev-b (as DPS issues them)" cert b --profile device-client --san uri:urn:orchard:dps:dev-b
as b GET /devices/dev-b/twin
expect_eq "a certificate naming urn:orchard:dps:dev-b reads dev-b's twin" "200 dev-b" "$STATUS $(jqb .deviceId)"
expect "cert issue: another URI" cert u --profile device-client --san uri:urn:other:dev-b
as u GET /devices/dev-b/twin
expect_problem "an Orchard certificate with another URI names no device: 401" 401 twin-device-unauthorized

BEFORE=$(snapshot)
as a GET /devices/dev-b/twin
expect_problem "dev-a's certificate on dev-b's twin: 403" 403 twin-device-forbidden
as a PATCH /devices/dev-b/twin/reported "${J[@]}" -d '{"x":1}'
expect_problem "nor may it write dev-b's reported properties" 403 twin-device-forbidden
as c GET /devices/reg-c/twin
expect_problem "the registration ID is no device ID here (pump-c is): 404" 404 twin-device-unknown
as a GET /devices/nobody/twin
expect_problem "an unknown device: 404" 404 twin-device-unknown

expect "cert issue: a device-client certificate for a DNS name" cert dns --profile device-client --san dns:dev-a.example
as dns GET /devices/dev-a/twin
expect_problem "an Orchard certificate that names no device (DNS only): 401" 401 twin-device-unauthorized
if cert srv --profile tls-server --san permanent-identifier:dev-a --san dns:dev-a.example; then
	as srv GET /devices/dev-a/twin
	expect_problem "a server certificate (no clientAuth) with dev-a's identifier: 401" 401 twin-device-unauthorized
else
	tap_ok "a server certificate cannot carry a PermanentIdentifier # $(cat "$D/srv.err")"
fi
expect "cert issue: two PermanentIdentifiers" cert two --profile device-client \
	--san permanent-identifier:dev-b --san permanent-identifier:dev-a
as two GET /devices/dev-a/twin
expect_problem "a certificate with two PermanentIdentifiers: 401" 401 twin-device-unauthorized

# Expired: issued with the clock two days behind (device-client lives 24 h).
cc -shared -fPIC -o "$TMP/clockshift.so" "$ROOT/tests/lib/clockshift.c" -ldl
CLOCKSHIFT_SECONDS=-172800 LD_PRELOAD="$TMP/clockshift.so" ASAN_OPTIONS=verify_asan_link_order=0 \
	cert old --profile device-client --san permanent-identifier:dev-a
expect "an old certificate was issued two days ago" test "$(openssl x509 -in "$D/old.pem" -noout -checkend 0 >/dev/null; echo $?)" = 1
as old GET /devices/dev-a/twin
expect_problem "an expired certificate: 401" 401 twin-device-unauthorized

# Another CA, same names: a root and a leaf with CN and PermanentIdentifier dev-a.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/evil-ca.key" \
	-subj /CN=evil-root -days 30 -out "$D/evil-ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/evil.key" -subj /CN=dev-a \
	-out "$D/evil.csr" 2>/dev/null
printf 'subjectAltName=otherName:1.3.6.1.5.5.7.8.3;SEQUENCE:pid\nextendedKeyUsage=clientAuth\n[pid]\nv=UTF8:dev-a\n' >"$D/evil.ext"
openssl x509 -req -in "$D/evil.csr" -CA "$D/evil-ca.pem" -CAkey "$D/evil-ca.key" -CAcreateserial -days 1 \
	-extfile "$D/evil.ext" -out "$D/evil.pem" 2>/dev/null
as evil GET /devices/dev-a/twin
expect_problem "another CA's certificate with the same CN and PermanentIdentifier: 401" 401 twin-device-unauthorized
cat "$D/evil.pem" "$D/evil-ca.pem" >"$D/evil2.pem" && cp "$D/evil.key" "$D/evil2.key"
as evil2 GET /devices/dev-a/twin
expect_problem "and with its root sent along: 401" 401 twin-device-unauthorized

SERIAL=$(serial_of "$D/a.pem")
expect "cert revoke: dev-a's certificate" "$ORCHARDD" --data-dir "$TMP/var" cert revoke "$SERIAL" --reason keyCompromise
as a GET /devices/dev-a/twin
expect_problem "a revoked certificate: 401" 401 twin-device-unauthorized
as a PATCH /devices/dev-a/twin/reported "${J[@]}" -d '{"agent":"down"}'
expect_problem "and it writes nothing" 401 twin-device-unauthorized
expect_eq "no refusal changed a twin" "$BEFORE" "$(snapshot)"
as c GET /devices/pump-c/twin
expect_eq "reg-c's certificate still works" 200 "$STATUS"

orchardd_stop
expect_eq "orchardd exits cleanly" 0 $?
expect_fail "no sanitizer report" grep -q Sanitizer "$OLOG"
tap_done
