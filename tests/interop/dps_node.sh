#!/bin/bash
# Interop: Microsoft's Azure IoT provisioning device SDK for Node.js
# (azure-iot-provisioning-device with the -http transport and the
# symmetric-key and X.509 security clients), unmodified, registers an
# individual enrollment's device, a group-derived device and an X.509
# device against orchardd; the service SDK (azure-iot-provisioning-service)
# creates, reads, queries, bulk-creates and deletes enrollments.
# The packages are installed once into build/npm-dps, shared by both test
# passes (under a lock: they may run side by side); without a reachable npm
# registry the test is skipped.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/npm.sh
trap fixture_cleanup EXIT
NPM_DIR="$ROOT/build/npm-dps"
PKGS=(azure-iot-provisioning-device azure-iot-provisioning-device-http azure-iot-security-symmetric-key
	azure-iot-security-x509 azure-iot-provisioning-service)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "1..0 # SKIP node or npm not installed"
	exit 0
fi
npm_prepare "$NPM_DIR" azure-iot-provisioning-service "${PKGS[@]}"

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
SCOPE=$(grep -o '"id_scope":"[^"]*"' "$OLOG" | head -1 | cut -d'"' -f4)
W=(-H "Authorization: Bearer $(token enrollments:write)" -H "Content-Type: application/json")
AV="api-version=2021-10-01"

http PUT "/enrollments/node-dev-1?$AV" "${W[@]}" -d '{"attestation":{"type":"symmetricKey"}}'
expect_eq "an individual enrollment is created" 200 "$STATUS"
KEY=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
GK=$(head -c 32 /dev/urandom | base64 -w0)
http PUT "/enrollmentGroups/node-group?$AV" "${W[@]}" \
	-d '{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"'"$GK"'"}}}'
expect_eq "an enrollment group is created" 200 "$STATUS"

NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
	timeout 60 node tests/interop/dps_node.js "$PORT" "$SCOPE" node-dev-1 "$KEY" node-grp-7 "$GK" \
	>"$TMP/node.out" 2>"$TMP/node.err"
expect_eq "the SDK ran to the end" 0 $?
ind=$(grep '"individual"' "$TMP/node.out")
grp=$(grep '"group"' "$TMP/node.out")
expect_eq "Node SDK: the individual enrollment's device is assigned" "assigned node-dev-1 127.0.0.1" \
	"$(jq -r '[.status, .deviceId, .assignedHub] | join(" ")' <<<"$ind")" || cat "$TMP/node.out" "$TMP/node.err" >&2
expect_eq "Node SDK: the group-derived device is assigned" "assigned node-grp-7 127.0.0.1" \
	"$(jq -r '[.status, .deviceId, .assignedHub] | join(" ")' <<<"$grp")"
expect_eq "both are recorded" "group node-grp-7|individual node-dev-1" \
	"$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT string_agg(enrollment_kind || ' ' || registration_id, '|' ORDER BY registration_id DESC) FROM dps_registrations")"

# X.509 (a self-signed device certificate pinned by its enrollment) and the
# service SDK with an operator token as its token credential.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/x.key" \
	-subj /CN=node-x509-1 -days 30 -out "$TMP/x.pem" 2>/dev/null
http PUT "/enrollments/node-x509-1?$AV" "${W[@]}" -d '{"attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":'"$(jq -Rs . <"$TMP/x.pem")"'}}}}}'
expect_eq "an X.509 enrollment is created" 200 "$STATUS"
NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
	timeout 60 node tests/interop/dps_node_more.js "$PORT" "$SCOPE" node-x509-1 "$TMP/x.pem" "$TMP/x.key" \
	"$(token enrollments:write enrollments:read)" >"$TMP/more.out" 2>"$TMP/more.err"
expect_eq "the SDKs ran to the end" 0 $?
step() { grep "\"step\":\"$1\"" "$TMP/more.out"; }
expect_eq "Node SDK (azure-iot-security-x509): the X.509 device is assigned" "assigned node-x509-1" \
	"$(step x509 | jq -r '[.status, .deviceId] | join(" ")')" || cat "$TMP/more.out" "$TMP/more.err" >&2
expect_eq "service SDK: three enrollments created, with keys" "svc-1 svc-2 svc-3 true" \
	"$(step create | jq -rs '(map(.id) | join(" ")) + " " + (all(.hasKey) | tostring)')"
expect_eq "service SDK: one read back" "svc-2 true" "$(step get | jq -r '[.id, .etag] | join(" ")')"
expect_eq "service SDK: the query walks the pages (2 a page) to the end" "3 node-dev-1 node-x509-1 svc-1 svc-2 svc-3" \
	"$(step query | jq -r '[.pages, (.ids | join(" "))] | join(" ")')"
expect_eq "service SDK: bulk create reports the existing one" "false svc-3:409000" \
	"$(step bulk | jq -r '[.isSuccessful, (.errors | join(","))] | join(" ")')"
expect_eq "service SDK: deleted, then 404" "true 404" "$(step deleted | jq -r '[.gone, .status] | join(" ")')"

# The service SDK with a shared access policy's connection string (the
# service SAS) instead of an operator token.
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read)" -H "Content-Type: application/json")
http PUT "/dps/policies/provisioningserviceowner" "${W[@]}" \
	-d '{"rights":"ServiceConfig, EnrollmentRead, EnrollmentWrite, RegistrationStatusRead, RegistrationStatusWrite"}'
OWNER=$(jq -r .primaryKey <<<"$BODY")
http PUT "/dps/policies/reader" "${W[@]}" -d '{"rights":"EnrollmentRead"}'
READER=$(jq -r .primaryKey <<<"$BODY")
NODE_PATH="$NPM_DIR/node_modules" NODE_EXTRA_CA_CERTS="$TMP/var/pki/root.pem" \
	timeout 60 node tests/interop/dps_node_sas.js "$PORT" "$OWNER" "$READER" >"$TMP/sas.out" 2>"$TMP/sas.err"
expect_eq "the SAS run ended" 0 $?
sstep() { grep "\"step\":\"$1\"" "$TMP/sas.out"; }
expect_eq "service SDK (fromConnectionString): created, with keys" "sas-node-1 true" \
	"$(sstep create | jq -r '[.id, .hasKey] | join(" ")')" || cat "$TMP/sas.out" "$TMP/sas.err" >&2
expect_eq "service SDK (SAS): read back" sas-node-1 "$(sstep get | jq -r .id)"
expect_eq "service SDK (SAS): queried" true "$(sstep query | jq -r '.ids | index("sas-node-1") != null')"
expect_eq "service SDK (read-only SAS): reads" sas-node-1 "$(sstep reader-get | jq -r .id)"
expect_eq "service SDK (read-only SAS): a write is refused 403" "true 403" \
	"$(sstep reader-write | jq -r '[.refused, .status] | join(" ")')"
expect_eq "service SDK (SAS): deleted, then 404" "true 404" "$(sstep deleted | jq -r '[.gone, .status] | join(" ")')"
expect_eq "the refused write wrote nothing" 0 \
	"$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) FROM dps_enrollments WHERE id LIKE 'sas-node-%'")"
tap_done
