#!/bin/bash
# DPS TPM attestation end to end with real swtpms and tpm2-tools: an
# individual enrollment pins the EK; the first register gets a 401 with an
# authenticationKey that only that TPM opens (ActivateCredential, Import,
# Load), the TPM's HMAC signs the SAS, the device is assigned and receives
# its hub key encrypted to its TPM. A TPM enrollment group (Orchard's,
# beyond Azure) enrols a device whose EK certificate chains to its roots.
# Every refusal leaves nothing written.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/swtpm.sh
. tests/lib/dps_tpm.sh
cleanup() { swtpm_cleanup; fixture_cleanup; }
trap cleanup EXIT
DV="api-version=2019-03-31"
written() { psql_q "SELECT (SELECT count(*) FROM dps_tpm_challenges) || ' ' || (SELECT count(*) FROM dps_registrations)"; }

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read twins:read)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
D=$TMP/dev
mkdir -p "$D"

# tpm_up DIR: a fresh swtpm with EK certificates and an SRK at 0x81000001;
# writes DIR/ek.pub, DIR/ek384.pub, DIR/srk.pub, DIR/ek.der and sets REGID
# (not in a subshell: swtpm_start exports the TCTI).
tpm_up() {
	swtpm_start "$1" >/dev/null && dps_tpm_srk "$1" &&
		dps_tpm_t tpm2_nvread 0x01c00002 -o "$1/ek.der" &&
		dps_tpm_t tpm2_readpublic -c 0x81010016 -o "$1/ek384.pub" || return 1
	REGID=$(ek_registration_id "$1/ek.pub")
}
b64f() { base64 -w0 <"$1"; }
# hub_sas DIR DEVICE [SKN]: an IoT Hub device SAS for DEVICE's twin, signed by
# the TPM with DIR/hmac.ctx (the hub key it opened)
hub_sas() { dps_tpm_sign_sas "$1" "127.0.0.1/devices/$2" "${3:-}"; }
register() { # REGID BODY [curl args]: PUT .../register
	local id=$1 body=$2
	shift 2
	http PUT "/$SCOPE/registrations/$id/register?$DV" "${JSON[@]}" "$@" -d "$body"
}

# --- individual enrollment --------------------------------------------------
tpm_up "$TMP/tpm1" || { tap_nok "swtpm starts"; tap_done; exit 1; }
REG1=$REGID
T1=$TMP/tpm1
EK1=$(b64f "$T1/ek.pub") SRK1=$(b64f "$T1/srk.pub")
http PUT "/enrollments/$REG1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"'"$REG1"'",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$EK1"'"}},
	"initialTwin":{"properties":{"desired":{"app":"blink"}}}}'
expect_eq "PUT creates a TPM enrollment pinning the EK" "200 tpm $EK1 null" \
	"$STATUS $(jq -r '[.attestation.type, .attestation.tpm.endorsementKey, (.attestation.symmetricKey|tostring)] | join(" ")' <<<"$BODY")"
http GET "/enrollments/$REG1?$AV" "${W[@]}"
expect_eq "GET shows the endorsement key" "$EK1" "$(jq -r .attestation.tpm.endorsementKey <<<"$BODY")"

before=$(written)
http PUT "/enrollments/bad-ek?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"tpm","tpm":{"endorsementKey":"!!notbase64"}}}'
expect_dps "an enrollment with a garbage endorsementKey is refused" 400 400004
http PUT "/enrollments/bad-ek?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"tpm"}}'
expect_dps "a TPM enrollment without an endorsementKey is refused" 400 400004
http GET "/enrollments/bad-ek?$AV" "${W[@]}"
expect_dps "and nothing was written" 404 404000

BODY1='{"registrationId":"'"$REG1"'","tpm":{"endorsementKey":"'"$EK1"'","storageRootKey":"'"$SRK1"'"}}'
register "$REG1" "$BODY1"
AK=$(jq -r .authenticationKey <<<"$BODY")
expect_eq "the first register (no SAS) is 401 with an authenticationKey and keyName" "401 registration" \
	"$STATUS $(jq -r .keyName <<<"$BODY")"
expect "the 401 is never cached" grep -qi '^cache-control: no-store' <<<"$HEADERS"
expect_eq "one pending challenge, no registration yet" "1 0" "$(written)"
expect "the TPM recovers the key (ActivateCredential, Import, Load)" dps_tpm_open "$AK" "$D/k1"
SAS=$(dps_tpm_sas "$D/k1" "$REG1")
register "$REG1" '{"registrationId":"'"$REG1"'"}' -H "Authorization: $SAS"
OP=$(jq -r .operationId <<<"$BODY")
expect_eq "the register signed by the TPM's HMAC is accepted" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"
http GET "/$SCOPE/registrations/$REG1/operations/$OP?$DV" -H "Authorization: $SAS"
HUBAK=$(jq -r .registrationState.tpm.authenticationKey <<<"$BODY")
expect_eq "the operation is assigned" "200 assigned $REG1" \
	"$STATUS $(jq -r '.status + " " + .registrationState.deviceId' <<<"$BODY")"
expect "registrationState.tpm.authenticationKey is there" test -n "$HUBAK" -a "$HUBAK" != null
if dps_tpm_open "$HUBAK" "$D/hub1" && printf 'hub' >"$D/hub.txt" &&
	tpm2_hmac -c "$D/hub1/hmac.ctx" -o "$D/hub.mac" "$D/hub.txt" >/dev/null 2>&1 &&
	[[ $(b64f "$D/hub.mac") == $(hmac_b64 "$(psql_q "SELECT device_key FROM dps_registrations WHERE registration_id = '$REG1'")" hub) ]]; then
	tap_ok "the TPM opens the hub key too, and it is the one Orchard keeps"
else
	tap_nok "the TPM opens the hub key too, and it is the one Orchard keeps" "$(cat "$TMP/act.err" "$TMP/tpm2.err")"
fi
swtpm_flush
http GET "/twins/$REG1" "${W[@]}"
expect_eq "the device's twin is seeded with initialTwin" "200 blink" "$STATUS $(jq -r .properties.desired.app <<<"$BODY")"
HUB1=$(hub_sas "$D/hub1" "$REG1")
http GET "/devices/$REG1/twin" -H "Authorization: $HUB1"
expect_eq "a hub SAS signed by the TPM (TPM2_HMAC, hub key) reads the device's own twin" "200 blink $REG1" \
	"$STATUS $(jq -r '.properties.desired.app + " " + .deviceId' <<<"$BODY")"
http PATCH "/devices/$REG1/twin/reported" -H "Authorization: $HUB1" "${JSON[@]}" -d '{"app":"blinking"}'
expect_eq "and writes its reported properties" "200 blinking" "$STATUS $(jq -r .app <<<"$BODY")"
tsnap() { psql_q "SELECT etag, version FROM twins WHERE device_id = '$REG1'"; }
tbefore=$(tsnap)
http GET "/devices/$REG1/twin" -H "Authorization: $(hub_sas "$D/k1" "$REG1")"
expect_problem "a hub SAS signed with the registration's authenticationKey (not the hub key): 401" 401 twin-device-unauthorized
http PATCH "/devices/$REG1/twin/reported" -H "Authorization: $(hub_sas "$D/hub1" "$REG1" registration)" "${JSON[@]}" -d '{"x":1}'
expect_problem "the hub key's SAS with a policy name (skn): 401" 401 twin-device-unauthorized
http GET "/devices/$REG1/twin" -H "Authorization: $(SKN= dps_sas "127.0.0.1/devices/$REG1" "$(head -c 32 /dev/urandom | base64 -w0)")"
expect_problem "a hub SAS signed with a random key: 401" 401 twin-device-unauthorized
expect_eq "no refusal changed the twin" "$tbefore" "$(tsnap)"
http PUT "/$SCOPE/registrations/$REG1/register?$DV" "${JSON[@]}" -d '{}' -H "Authorization: $(dps_sas "$SCOPE/registrations/$REG1" "$(head -c 32 /dev/urandom | base64 -w0)")"
expect_dps "a SAS signed with another key is refused" 401 401002

# Bad first requests: nothing written.
before=$(written)
register "$REG1" '{"registrationId":"'"$REG1"'"}'
expect_dps "no SAS and no tpm member: 401" 401 401002
register "$REG1" '{"tpm":{"endorsementKey":"%%%garbage","storageRootKey":"'"$SRK1"'"}}'
expect_dps "garbage base64 endorsementKey: 400" 400 400004
register "$REG1" '{"tpm":{"endorsementKey":"'"$(head -c 3000 /dev/urandom | base64 -w0)"'","storageRootKey":"'"$SRK1"'"}}'
expect_dps "an oversized endorsementKey: 400" 400 400004
register "$REG1" '{"tpm":{"endorsementKey":"'"$EK1"'","storageRootKey":"'"$(head -c 40 /dev/urandom | base64 -w0)"'"}}'
expect_dps "storageRootKey that is no TPM2B_PUBLIC: 400" 400 400004
register "$REG1" '{"tpm":{"endorsementKey":"'"$EK1"'","storageRootKey":"'"$(head -c 200 "$T1/srk.pub" | base64 -w0)"'"}}'
expect_dps "truncated storageRootKey: 400" 400 400004
register "$REG1" '{"tpm":{"endorsementKey":"'"$EK1"'","storageRootKey":"'"$(b64f "$T1/ek384.pub")"'"}}'
expect_dps "a P-384 storageRootKey (SHA-256 names and AES-128-CFB needed): 400" 400 400004
expect_eq "nothing was written by the refusals" "$before" "$(written)"

# --- a second TPM -----------------------------------------------------------
swtpm_stop
tpm_up "$TMP/tpm2" || { tap_nok "second swtpm starts"; tap_done; exit 1; }
REG2=$REGID
T2=$TMP/tpm2
EK2=$(b64f "$T2/ek.pub") SRK2=$(b64f "$T2/srk.pub")
expect_fail "another TPM cannot open the first one's authenticationKey" dps_tpm_open "$AK" "$D/k2"
before=$(written)
register "$REG2" '{"tpm":{"endorsementKey":"'"$EK2"'","storageRootKey":"'"$SRK2"'"}}'
expect_dps "an EK that is not enrolled: 401" 401 401002
register "$REG1" '{"tpm":{"endorsementKey":"'"$EK2"'","storageRootKey":"'"$SRK2"'"}}'
expect_dps "another TPM's EK for an enrolled registration ID: 401" 401 401002
expect_eq "nothing written" "$before" "$(written)"

# --- TPM enrollment group: EK certificate chains to its roots ------------------
ROOTS=$(jq -Rs . <<<"$(cat "$SWTPM_DIR"/ca/*cert*.pem)")
mkdir -p "$D/other"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/other/k.pem" \
	-subj /CN=other-root -days 30 -out "$D/other/root.pem" 2>/dev/null
OTHER=$(jq -Rs . <"$D/other/root.pem")
http PUT "/enrollmentGroups/line-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"line-1",
	"attestation":{"type":"tpm","tpm":{"rootCertificates":['"$OTHER"']}}}'
expect_eq "a TPM group naming a manufacturer root" "200 tpm" "$STATUS $(jq -r .attestation.type <<<"$BODY")"
http PUT "/enrollmentGroups/bad-roots?$AV" "${W[@]}" "${JSON[@]}" -d '{"attestation":{"type":"tpm","tpm":{"rootCertificates":["not a pem"]}}}'
expect_dps "a group whose rootCertificates are not PEM is refused" 400 400004
CERT2=$(b64f "$T2/ek.der")
GBODY='{"tpm":{"endorsementKey":"'"$EK2"'","storageRootKey":"'"$SRK2"'","endorsementKeyCertificate":"'"$CERT2"'"}}'
register "$REG2" "$GBODY"
expect_dps "an EK certificate chaining to no group's roots: 401" 401 401002
register "$REG2" '{"tpm":{"endorsementKey":"'"$EK2"'","storageRootKey":"'"$SRK2"'","endorsementKeyCertificate":"AAAA"}}'
expect_dps "an endorsementKeyCertificate that is no certificate: 400" 400 400004
expect_eq "nothing written" "$before" "$(written)"

http PUT "/enrollmentGroups/line-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"line-1",
	"attestation":{"type":"tpm","tpm":{"rootCertificates":['"$ROOTS"']}},
	"initialTwin":{"tags":{"line":"1"},"properties":{"desired":{"app":"press"}}}}'
expect_eq "the group now names the swtpm CA" 200 "$STATUS"
register "$REG2" '{"tpm":{"endorsementKey":"'"$EK1"'","storageRootKey":"'"$SRK2"'","endorsementKeyCertificate":"'"$CERT2"'"}}'
expect_dps "an EK certificate for another EK: 401" 401 401002
register "${REG2}x" "$GBODY"
expect_dps "a registration ID that is not the EK's: 401" 401 401002
register "$REG2" "$GBODY"
AK2=$(jq -r .authenticationKey <<<"$BODY")
expect_eq "a device whose EK certificate chains gets its authenticationKey" "401 registration" "$STATUS $(jq -r .keyName <<<"$BODY")"
expect "its TPM opens it" dps_tpm_open "$AK2" "$D/g2"
SAS2=$(dps_tpm_sas "$D/g2" "$REG2")
register "$REG2" '{}' -H "Authorization: $SAS2"
OP2=$(jq -r .operationId <<<"$BODY")
http GET "/$SCOPE/registrations/$REG2/operations/$OP2?$DV" -H "Authorization: $SAS2"
BODY0=$BODY
expect_eq "it is enrolled on first contact and assigned" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"
expect "with a TPM-encrypted hub key" jq -e '.registrationState.tpm.authenticationKey | length > 100' <<<"$BODY"
expect_eq "from the group" "group line-1" "$(psql_q "SELECT enrollment_kind || ' ' || enrollment_id FROM dps_registrations WHERE registration_id = '$REG2'")"
http GET "/twins/$REG2" "${W[@]}"
expect_eq "its twin carries the group's initialTwin" "200 press 1" "$STATUS $(jq -r '.properties.desired.app + " " + .tags.line' <<<"$BODY")"
http PUT "/$SCOPE/registrations/$REG1/register?$DV" "${JSON[@]}" -d '{}' -H "Authorization: $SAS2"
expect_dps "its key opens no other registration" 401 401002
if dps_tpm_open "$(jq -r .registrationState.tpm.authenticationKey <<<"$BODY0")" "$D/hub2"; then
	tap_ok "the group device's TPM opens its hub key"
else
	tap_nok "the group device's TPM opens its hub key" "$(cat "$TMP/act.err" "$TMP/tpm2.err")"
fi
http GET "/devices/$REG2/twin" -H "Authorization: $(hub_sas "$D/hub2" "$REG2")"
expect_eq "the TPM group device reads its own twin with its hub SAS" "200 press null" \
	"$STATUS $(jq -r '.properties.desired.app + " " + (.tags|tostring)' <<<"$BODY")"
tbefore=$(tsnap)
http GET "/devices/$REG1/twin" -H "Authorization: $(hub_sas "$D/hub2" "$REG1")"
expect_problem "another TPM device's hub key signing for the first device: 401" 401 twin-device-unauthorized
http PATCH "/devices/$REG1/twin/reported" -H "Authorization: $(hub_sas "$D/hub2" "$REG2")" "${JSON[@]}" -d '{"x":1}'
expect_problem "another device's own SAS on the first device's twin: 403" 403 twin-device-forbidden
expect_eq "neither changed the first device's twin" "$tbefore" "$(tsnap)"

psql_q "UPDATE dps_tpm_challenges SET expires_at = now() - interval '1 second' WHERE registration_id = '$REG2'" >/dev/null
register "$REG2" '{}' -H "Authorization: $SAS2"
expect_dps "an expired authenticationKey no longer signs" 401 401002
psql_q "UPDATE dps_tpm_challenges SET expires_at = now() - interval '2 days'" >/dev/null
register "$REG2" "$GBODY"
expect_eq "a new challenge drops the long-expired ones" "401 1" "$STATUS $(psql_q "SELECT count(*) FROM dps_tpm_challenges")"

# --- an ECC EK (swtpm's P-384 EK, its certificate chaining to the group's
# roots): the credential seed by ECDH (Orchard's own encoding) ---------------
REG3=$(ek_registration_id "$T2/ek384.pub")
dps_tpm_t tpm2_nvread 0x01c00016 -o "$T2/ek384.der"
EBODY='{"tpm":{"endorsementKey":"'"$(b64f "$T2/ek384.pub")"'","storageRootKey":"'"$SRK2"'","endorsementKeyCertificate":"'"$(b64f "$T2/ek384.der")"'"}}'
register "$REG3" "$EBODY"
AK3=$(jq -r .authenticationKey <<<"$BODY")
expect_eq "an ECC (P-384) EK whose certificate chains gets an authenticationKey" "401 registration" "$STATUS $(jq -r .keyName <<<"$BODY")"
expect "its TPM opens it with the ECC EK" dps_tpm_open "$AK3" "$D/e3" 0x81010016
SAS3=$(dps_tpm_sas "$D/e3" "$REG3")
register "$REG3" '{}' -H "Authorization: $SAS3"
OP3=$(jq -r .operationId <<<"$BODY")
http GET "/$SCOPE/registrations/$REG3/operations/$OP3?$DV" -H "Authorization: $SAS3"
HUB3=$(jq -r .registrationState.tpm.authenticationKey <<<"$BODY")
expect_eq "the ECC-EK device is assigned from the group" "200 assigned group line-1" \
	"$STATUS $(jq -r .status <<<"$BODY") $(psql_q "SELECT enrollment_kind || ' ' || enrollment_id FROM dps_registrations WHERE registration_id = '$REG3'")"
if dps_tpm_open "$HUB3" "$D/hub3" 0x81010016 && tpm2_hmac -c "$D/hub3/hmac.ctx" -o "$D/hub3.mac" "$D/hub.txt" >/dev/null 2>&1 &&
	[[ $(b64f "$D/hub3.mac") == $(hmac_b64 "$(psql_q "SELECT device_key FROM dps_registrations WHERE registration_id = '$REG3'")" hub) ]]; then
	tap_ok "the ECC EK opens its hub key too"
else
	tap_nok "the ECC EK opens its hub key too" "$(cat "$TMP/act.err" "$TMP/tpm2.err")"
fi
swtpm_flush
# ecc_srk DIR: an ECC P-256 SRK (SHA-256, AES-128-CFB) at 0x81000002
ecc_srk() {
	dps_tpm_t tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb -c "$1/srkecc.ctx" &&
		dps_tpm_t tpm2_evictcontrol -C o -c "$1/srkecc.ctx" 0x81000002 &&
		dps_tpm_t tpm2_readpublic -c 0x81000002 -o "$1/srkecc.pub"
}
expect "an ECC SRK is made" ecc_srk "$T2"
register "$REG3" '{"tpm":{"endorsementKey":"'"$(b64f "$T2/ek384.pub")"'","storageRootKey":"'"$(b64f "$T2/srkecc.pub")"'","endorsementKeyCertificate":"'"$(b64f "$T2/ek384.der")"'"}}'
AK4=$(jq -r .authenticationKey <<<"$BODY")
expect_eq "an ECC EK with an ECC SRK gets an authenticationKey" "401 registration" "$STATUS $(jq -r .keyName <<<"$BODY")"
expect "its TPM opens it (the duplicate's seed by ECDH too)" dps_tpm_open "$AK4" "$D/e5" 0x81010016 0x81000002
register "$REG3" '{}' -H "Authorization: $(dps_tpm_sas "$D/e5" "$REG3")"
expect_eq "and signs its registration with it" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"
swtpm_stop
tpm_up "$TMP/tpm3" || { tap_nok "third swtpm starts"; tap_done; exit 1; }
expect_fail "another TPM's ECC EK cannot open it" dps_tpm_open "$AK3" "$D/e4" 0x81010016
ecc_srk "$TMP/tpm3"
expect_fail "nor the one for the ECC SRK" dps_tpm_open "$AK4" "$D/e6" 0x81010016 0x81000002

orchardd_stop
expect_eq "orchardd exits cleanly" 0 $?
tap_done
