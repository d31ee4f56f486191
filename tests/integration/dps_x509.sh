#!/bin/bash
# DPS X.509 attestation end to end with curl client certificates: an
# individual enrollment pins a leaf (its SHA-256 thumbprint), a group names
# a signing CA (root or intermediate) the device chain must reach, the leaf's
# CN is the registration ID. Refusals: unknown CA, expired leaf, CN not the
# registration ID, no certificate, a pinned ID with another certificate.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
trap fixture_cleanup EXIT
DV="api-version=2019-03-31"

# --- a small PKI: root -> intermediate -> device leaves; a stranger CA ------------
P=$TMP/pki
mkdir -p "$P"
cd "$P" || exit 1
cat >ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = $P/index.txt
unique_subject = no
new_certs_dir = $P
serial = $P/serial
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[leaf_ext]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
CNF
: >index.txt
echo 1000 >serial
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
csr() { key "$1" && openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null; }
# sign NAME CA EXT [startdate enddate]
sign() {
	local dates=(-days 30)
	[[ -n "${4:-}" ]] && dates=(-startdate "$4" -enddate "$5")
	openssl ca -batch -config ca.cnf -cert "$2.pem" -keyfile "$2.key" -extensions "$3" "${dates[@]}" \
		-notext -in "$1.csr" -out "$1.pem" >/dev/null 2>&1
}
key root && openssl req -x509 -new -key root.key -subj /CN=orchard-test-root -days 30 \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign -out root.pem 2>/dev/null
csr inter orchard-test-intermediate && sign inter root ca_ext
key stranger && openssl req -x509 -new -key stranger.key -subj /CN=stranger -days 30 \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign -out stranger.pem 2>/dev/null
csr g1 grp-dev-1 && sign g1 inter leaf_ext && cat g1.pem inter.pem >g1.chain
csr g2 grp-dev-2 && sign g2 inter leaf_ext && cat g2.pem inter.pem >g2.chain
csr gx grp-dev-3 && sign gx stranger leaf_ext
csr gold grp-dev-4 && sign gold inter leaf_ext 20200101000000Z 20200201000000Z && cat gold.pem inter.pem >gold.chain
csr gcn someone-else && sign gcn inter leaf_ext && cat gcn.pem inter.pem >gcn.chain
csr gs grp-dev-1 && sign gs stranger leaf_ext
csr gexp grp-dev-1 && sign gexp inter leaf_ext 20200101000000Z 20200201000000Z && cat gexp.pem inter.pem >gexp.chain
key ind && openssl req -x509 -new -key ind.key -subj /CN=x509-dev-1 -days 30 -out ind.pem 2>/dev/null
key ind2 && openssl req -x509 -new -key ind2.key -subj /CN=x509-dev-1 -days 30 -out ind2.pem 2>/dev/null
cd - >/dev/null || exit 1
expect "the test PKI was made" test -s "$P/g1.chain" -a -s "$P/gold.pem" -a -s "$P/gx.pem" -a -s "$P/ind.pem"

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read twins:read)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
pemj() { jq -Rs . <"$1"; }
# dev NAME REGID [curl args]: register with the client certificate NAME
# (its .chain when there is one), then poll the operation with it.
dev() {
	local n=$1 id=$2 crt=$P/$1.pem
	shift 2
	[[ -f $P/$n.chain ]] && crt=$P/$n.chain
	http PUT "/$SCOPE/registrations/$id/register?$DV" "${JSON[@]}" --cert "$crt" --key "$P/$n.key" \
		-d '{"registrationId":"'"$id"'"}' "$@"
	[[ $STATUS == 200 ]] || return 0
	local op
	op=$(jq -r .operationId <<<"$BODY")
	http GET "/$SCOPE/registrations/$id/operations/$op?$DV" --cert "$crt" --key "$P/$n.key"
}
count() { psql_q "SELECT count(*) FROM dps_registrations"; }

# --- individual enrollment: a pinned certificate ------------------------------
http PUT "/enrollments/x509-dev-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"x509-dev-1",
	"attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":'"$(pemj "$P/ind.pem")"'}}}}}'
THUMB=$(openssl x509 -in "$P/ind.pem" -outform der | sha256sum | cut -c1-64 | tr a-f A-F)
expect_eq "PUT pins a client certificate (Azure's info with its thumbprint)" "200 x509 $THUMB x509-dev-1" \
	"$STATUS $(jq -r '[.attestation.type, .attestation.x509.clientCertificates.primary.info.sha256Thumbprint, (.attestation.x509.clientCertificates.primary.info.subjectName|sub(".*CN *= *";""))] | join(" ")' <<<"$BODY")"
http PUT "/enrollments/x509-bad?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":"not a certificate"}}}}}'
expect_dps "a clientCertificate that is no certificate is refused" 400 400004
http PUT "/enrollments/x509-bad?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"x509","x509":{}}}'
expect_dps "an X.509 enrollment without a certificate is refused" 400 400004
before=$(count)
dev ind2 x509-dev-1
expect_dps "another certificate with the same CN: 401" 401 401002
expect_eq "nothing written" "$before" "$(count)"
dev ind x509-dev-1
expect_eq "the pinned certificate registers and is assigned" "200 assigned x509-dev-1" \
	"$STATUS $(jq -r '.status + " " + .registrationState.deviceId' <<<"$BODY")"
DER=$(openssl x509 -in "$P/ind.pem" -outform der | base64 -w0)
http PUT "/enrollments/x509-dev-2?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"x509",
	"x509":{"clientCertificates":{"secondary":{"certificate":"'"$DER"'"}}}}}'
expect_eq "a base64 DER certificate in the secondary slot is taken" "200 $THUMB" \
	"$STATUS $(jq -r .attestation.x509.clientCertificates.secondary.info.sha256Thumbprint <<<"$BODY")"
dev ind x509-dev-2
expect_dps "its CN is not the registration ID: 401" 401 401002

# --- group: a signing CA ---------------------------------------------------------
http PUT "/enrollmentGroups/x509-line?$AV" "${W[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"x509-line",
	"attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"certificate":'"$(pemj "$P/root.pem")"'}}}},
	"initialTwin":{"properties":{"desired":{"app":"x509-app"}}}}'
expect_eq "a group names a root CA as its signing certificate" "200 x509" "$STATUS $(jq -r .attestation.type <<<"$BODY")"
http PUT "/enrollmentGroups/x509-bad?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"x509","x509":{"caReferences":{"primary":"my-ca"}}}}'
expect_dps "caReferences are refused (not supported)" 400 400004
dev g1 grp-dev-1
expect_eq "a leaf + intermediate chaining to the root is assigned" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"
http GET "/twins/grp-dev-1" "${W[@]}"
expect_eq "with the group's initialTwin" "200 x509-app" "$STATUS $(jq -r .properties.desired.app <<<"$BODY")"
before=$(count)
dev gx grp-dev-3
expect_dps "a leaf of an unknown CA: 401" 401 401002
dev gold grp-dev-4
expect_dps "an expired leaf: 401" 401 401002
dev gcn grp-dev-5
expect_dps "a CN that is not the registration ID: 401" 401 401002
http PUT "/$SCOPE/registrations/grp-dev-2/register?$DV" "${JSON[@]}" --cert "$P/g2.pem" --key "$P/g2.key" -d '{}'
expect_dps "a leaf without its intermediate (the root is the anchor): 401" 401 401002
http PUT "/$SCOPE/registrations/grp-dev-2/register?$DV" "${JSON[@]}" -d '{}'
expect_dps "no certificate and no SAS: 401" 401 401002
http GET "/$SCOPE/registrations/grp-dev-1/operations/x?$DV"
expect_dps "a poll without certificate or SAS: 401" 401 401002
expect_eq "nothing written by the refusals" "$before" "$(count)"

# --- the device twin API with the same certificates --------------------------------
# tw NAME PATH [curl args]: a twin API call with the client certificate NAME.
tw() {
	local n=$1 crt=$P/$1.pem
	[[ -f $P/$n.chain ]] && crt=$P/$n.chain
	http "${3:-GET}" "$2" --cert "$crt" --key "$P/$n.key" "${@:4}"
}
rver() { psql_q "SELECT coalesce((reported->>'\$version'), 'none') FROM twins WHERE device_id = '$1'"; }
tw ind /devices/x509-dev-1/twin
expect_eq "a pinned certificate reads its own twin (no tags)" "200 x509-dev-1 null" \
	"$STATUS $(jq -r .deviceId <<<"$BODY") $(jq -r .tags <<<"$BODY")"
tw ind /devices/x509-dev-1/twin/reported PATCH "${JSON[@]}" -d '{"fw":"1.0"}'
expect_eq "and reports" "200 1.0 2" "$STATUS $(jq -r .fw <<<"$BODY") $(rver x509-dev-1)"
expect_eq "recorded by the device" "device x509-dev-1" \
	"$(psql_q "SELECT actor_kind || ' ' || actor FROM twin_history WHERE device_id = 'x509-dev-1' ORDER BY version DESC LIMIT 1")"
tw g1 "/devices/grp-dev-1/twin/desired?since=0"
expect_eq "a group device's chain reads its desired properties" "200 x509-app" "$STATUS $(jq -r .app <<<"$BODY")"
before=$(rver x509-dev-1)
tw ind /devices/grp-dev-1/twin
expect_problem "a certificate naming another device: 403" 403 twin-device-forbidden
tw g1 /devices/x509-dev-1/twin/reported PATCH "${JSON[@]}" -d '{"fw":"evil"}'
expect_problem "nor may it write that device's reported properties" 403 twin-device-forbidden
tw ind2 /devices/x509-dev-1/twin/reported PATCH "${JSON[@]}" -d '{"fw":"evil"}'
expect_problem "another certificate with the pinned one's CN: 401" 401 twin-device-unauthorized
tw gs /devices/grp-dev-1/twin
expect_problem "the device's CN under an unknown CA: 401" 401 twin-device-unauthorized
tw gexp /devices/grp-dev-1/twin
expect_problem "an expired leaf: 401" 401 twin-device-unauthorized
tw g2 /devices/grp-dev-2/twin
expect_problem "a valid certificate of a device not registered: 404" 404 twin-device-unknown
http GET /devices/grp-dev-1/twin
expect_problem "no certificate and no SAS: 401" 401 twin-device-unauthorized
# uri_escape: as nginx's $ssl_client_escaped_cert (%20, never +)
uri_escape() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))'; }
http GET /devices/x509-dev-1/twin -H "X-Client-Cert: $(uri_escape <"$P/ind.pem")"
expect_problem "X-Client-Cert without --dps-cert-proxy: 401" 401 twin-device-unauthorized
expect_eq "the refusals wrote nothing" "$before" "$(rver x509-dev-1)"

# An intermediate as the group's anchor: the leaf alone is enough.
http PUT "/enrollmentGroups/x509-line?$AV" "${W[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"x509-line",
	"attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"certificate":'"$(pemj "$P/inter.pem")"'}}}}}'
expect_eq "the group now names the intermediate" 200 "$STATUS"
http PUT "/$SCOPE/registrations/grp-dev-2/register?$DV" "${JSON[@]}" --cert "$P/g2.pem" --key "$P/g2.key" -d '{}'
expect_eq "a leaf signed by it registers without sending the intermediate" 200 "$STATUS"

# --- behind a TLS-terminating proxy: X-Client-Cert from a trusted address ----------
ESC=$(uri_escape <"$P/ind.pem")
http PUT "/$SCOPE/registrations/x509-dev-1/register?$DV" "${JSON[@]}" -H "X-Client-Cert: $ESC" -d '{}'
expect_dps "X-Client-Cert counts for nothing without --dps-cert-proxy" 401 401002
orchardd_stop
orchardd_start --dps-cert-proxy 10.9.9.9 || { tap_nok "orchardd restarts"; tap_done; exit 1; }
http PUT "/$SCOPE/registrations/x509-dev-1/register?$DV" "${JSON[@]}" -H "X-Client-Cert: $ESC" -d '{}'
expect_dps "nor from another address than the proxy's" 401 401002
orchardd_stop
orchardd_start --dps-cert-proxy 127.0.0.1 || { tap_nok "orchardd restarts"; tap_done; exit 1; }
http PUT "/$SCOPE/registrations/x509-dev-1/register?$DV" "${JSON[@]}" -H "X-Client-Cert: $ESC" -d '{}'
expect_eq "from the trusted proxy it authenticates the device" 200 "$STATUS"
http PUT "/$SCOPE/registrations/x509-dev-1/register?$DV" "${JSON[@]}" -H "X-Client-Cert: $(uri_escape <"$P/ind2.pem")" -d '{}'
expect_dps "another certificate in it does not" 401 401002
http PUT "/$SCOPE/registrations/x509-dev-1/register?$DV" "${JSON[@]}" -H "X-Client-Cert: %zz" -d '{}'
expect_dps "a malformed header does not" 401 401002
http PUT "/$SCOPE/registrations/grp-dev-1/register?$DV" "${JSON[@]}" -H "X-Client-Cert: $(uri_escape <"$P/g1.chain")" -d '{}'
expect_eq "a leaf and its intermediate in it chain to the group's anchor" 200 "$STATUS"
http GET /devices/x509-dev-1/twin -H "X-Client-Cert: $ESC"
expect_eq "and reads the device's twin from the trusted proxy" "200 x509-dev-1" "$STATUS $(jq -r .deviceId <<<"$BODY")"

orchardd_stop
expect_eq "orchardd exits cleanly" 0 $?
tap_done
