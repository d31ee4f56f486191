#!/bin/bash
# Orchard as the TPM attestation CA, end to end with real swtpms and
# tpm2-tools: POST /attestation/ak/challenge for an enrolled EK and a new AK,
# tpm2_activatecredential on the rebuilt credential file, POST
# /attestation/ak/{id}/activate, and the AK certificate chain verified with
# openssl against the root, field by field. RSA and ECC (P-384) EKs, RSA,
# P-256 and P-384 AKs; individual enrollments and TPM groups. Every refusal
# leaves nothing written.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/swtpm.sh
cleanup() { swtpm_cleanup; fixture_cleanup; }
trap cleanup EXIT
written() {
	psql_q "SELECT (SELECT count(*) FROM attest_ak_challenges) || ' ' || (SELECT count(*) FROM attest_ak_certificates) || ' ' || (SELECT count(*) FROM certificates)"
}
issued() { psql_q "SELECT (SELECT count(*) FROM attest_ak_certificates) || ' ' || (SELECT count(*) FROM certificates)"; }

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read pki:admin)")
D=$TMP/dev
mkdir -p "$D"
expect "the attestation CA was made on first start, under the root" \
	openssl verify -CAfile "$TMP/var/pki/root.pem" "$TMP/var/pki/att.pem"
expect "and it is a CA of its own" grep -q "Orchard attestation CA" <(openssl x509 -in "$TMP/var/pki/att.pem" -noout -subject)

t() { swtpm_t "$@"; }
b64f() { base64 -w0 <"$1"; }
# tpm_up DIR: a fresh swtpm; DIR/ek.pub + ek.der (RSA-2048), ek384.pub + ek384.der (ECC P-384)
tpm_up() {
	swtpm_start "$1" >/dev/null || return 1
	t tpm2_readpublic -c 0x81010001 -o "$1/ek.pub" &&
		t tpm2_nvread 0x01c00002 -o "$1/ek.der" &&
		t tpm2_readpublic -c 0x81010016 -o "$1/ek384.pub" &&
		t tpm2_nvread 0x01c00016 -o "$1/ek384.der"
}
# ak_make DIR EKHANDLE ALG (rsa|ecc256|ecc384): an AK under that EK: DIR/ak.ctx, ak.pub, ak.pem
ak_make() {
	local sig=rsassa g=sha256
	[[ $3 == ecc* ]] && sig=ecdsa
	[[ $3 == ecc384 ]] && g=sha384
	mkdir -p "$1"
	t tpm2_createak -C "$2" -c "$1/ak.ctx" -G "$3" -g "$g" -s "$sig" -u "$1/ak.pub" -r "$1/ak.priv" -n "$1/ak.name" &&
		t tpm2_readpublic -c "$1/ak.ctx" -f pem -o "$1/ak.pem"
}
# challenge EKPUB EKDER|- AKPUB: POST /attestation/ak/challenge
challenge() {
	local cert=""
	[[ $2 != - ]] && cert=',"endorsementKeyCertificate":"'"$(b64f "$2")"'"'
	http POST /attestation/ak/challenge "${JSON[@]}" \
		-d '{"endorsementKey":"'"$(b64f "$1")"'"'"$cert"',"attestationKey":"'"$(b64f "$3")"'"}'
}
# activate_tpm DIR EKHANDLE: rebuilds tpm2_makecredential's file from the last
# challenge reply and has the TPM recover the secret into DIR/secret.bin
activate_tpm() {
	{
		printf '\xba\xdc\xc0\xde\x00\x00\x00\x01'
		jq -r .credentialBlob <<<"$BODY" | base64 -d
		jq -r .encryptedSecret <<<"$BODY" | base64 -d
	} >"$1/cred.out"
	rm -f "$1/secret.bin"
	# swtpm's RSA EK takes PolicySecret(endorsement); its P-384 EK userWithAuth
	local auth=()
	if [[ $2 == 0x81010001 ]]; then
		t tpm2_startauthsession --policy-session -S "$1/sess.ctx" &&
			t tpm2_policysecret -S "$1/sess.ctx" -c e || return 1
		auth=(-P "session:$1/sess.ctx")
	fi
	tpm2_activatecredential -c "$1/ak.ctx" -C "$2" -i "$1/cred.out" -o "$1/secret.bin" \
		"${auth[@]}" >/dev/null 2>"$D/act.err"
	local rc=$?
	[[ $2 == 0x81010001 ]] && tpm2_flushcontext "$1/sess.ctx" >/dev/null 2>&1
	swtpm_flush
	return $rc
}
activate() { # ID SECRET-B64
	http POST "/attestation/ak/$1/activate" "${JSON[@]}" -d '{"secret":"'"$2"'"}'
}
# chain_check DIR EKDER REGID: the last activate reply's chain verifies to the
# root and the AK certificate carries every field of the profile
chain_check() {
	local dir=$1 i n want text
	n=$(jq '.certificateChain | length' <<<"$BODY")
	[[ $n == 3 ]] || { echo "chain of $n"; return 1; }
	for i in 0 1 2; do
		jq -r ".certificateChain[$i]" <<<"$BODY" | base64 -d | openssl x509 -inform der -out "$dir/c$i.pem" || return 1
	done
	cmp -s "$dir/c1.pem" "$TMP/var/pki/att.pem" || { echo "the second is not the attestation CA"; return 1; }
	cmp -s "$dir/c2.pem" "$TMP/var/pki/root.pem" || { echo "the third is not the root"; return 1; }
	openssl verify -CAfile "$dir/c2.pem" -untrusted "$dir/c1.pem" "$dir/c0.pem" >/dev/null || return 1
	text=$(openssl x509 -in "$dir/c0.pem" -noout -text -certopt no_sigdump) || return 1
	want=$(openssl x509 -inform der -in "$2" -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64 -w0)
	grep -q "Version: 3 (0x2)" <<<"$text" || { echo "not v3"; return 1; }
	[[ $(openssl x509 -in "$dir/c0.pem" -noout -subject) == "subject=" ]] || { echo "subject not empty"; return 1; }
	grep -A1 "Basic Constraints: critical" <<<"$text" | grep -q "CA:FALSE" || { echo "CA"; return 1; }
	grep -A1 "Extended Key Usage" <<<"$text" | grep -qx "[[:space:]]*2.23.133.8.3" || { echo "EKU"; return 1; }
	grep -q "X509v3 Subject Alternative Name: critical" <<<"$text" || { echo "SAN not critical"; return 1; }
	grep -q "URI:urn:ek:sha256:$want" <<<"$text" || { echo "no URI urn:ek:sha256:$want"; return 1; }
	[[ $4 == nodir ]] || grep -q "DirName:.*2.23.133.2.1 *= *id:00001014.*2.23.133.2.2 *= *swtpm.*2.23.133.2.3 *= *id:" <<<"$text" || { echo "no TPM DirName"; return 1; }
	# otherName id-on-permanentIdentifier [0] { SEQUENCE { UTF8String id } }, no assigner
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); v = sys.argv[2].encode()
want = bytes.fromhex("06082b06010505070803") + bytes([0xa0, len(v) + 4, 0x30, len(v) + 2, 0x0c, len(v)]) + v
sys.exit(0 if want in d else 1)' <(openssl x509 -in "$dir/c0.pem" -outform der) "$3" || { echo "no permanentIdentifier $3 (without assigner)"; return 1; }
	# the certified key is the AK
	cmp -s <(openssl x509 -in "$dir/c0.pem" -noout -pubkey) <(openssl pkey -pubin -in "$dir/ak.pem") || { echo "another key"; return 1; }
}
# full ROUND NAME EKPUB EKDER|- EKHANDLE AKALG REGID: challenge, activation, chain
full() {
	local dir=$D/$1
	mkdir -p "$dir"
	ak_make "$dir" "$5" "$6" || { tap_nok "$2: AK made"; return; }
	challenge "$3" "$4" "$dir/ak.pub"
	local id=$(jq -r .id <<<"$BODY")
	expect_eq "$2: challenge 201 with id, credentialBlob, encryptedSecret, expires" "201 true" \
		"$STATUS $(jq '(.id|length) == 32 and (.credentialBlob|length) > 10 and (.encryptedSecret|length) > 10 and (.expires|test("Z$"))' <<<"$BODY")"
	expect "$2: tpm2_activatecredential recovers the secret from the rebuilt file" activate_tpm "$dir" "$5"
	activate "$id" "$(b64f "$dir/secret.bin")"
	expect_eq "$2: activation 200" 200 "$STATUS"
	if out=$(chain_check "$dir" "${4/#-/$EKDER_FOR_CHECK}" "$7" "$([[ $4 == - || -n ${NODIR:-} ]] && echo nodir)" 2>&1); then tap_ok "$2: the chain verifies and the AK certificate has every field"; else tap_nok "$2: the chain verifies and the AK certificate has every field" "$out"; fi
	LAST_ID=$id LAST_SECRET=$(b64f "$dir/secret.bin")
	LAST_SERIAL=$(openssl x509 -in "$dir/c0.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
}

# --- a TPM and its enrollments ----------------------------------------------
tpm_up "$TMP/tpm1" || { tap_nok "swtpm starts"; tap_done; exit 1; }
T1=$TMP/tpm1
REG1=$(ek_registration_id "$T1/ek384.pub")
http PUT "/enrollments/device-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"device-1",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(b64f "$T1/ek.pub")"'"}}}'
expect_eq "an individual enrollment pins the RSA EK" 200 "$STATUS"
ROOTS=$(jq -Rs . <<<"$(cat "$SWTPM_DIR"/ca/*cert*.pem)")
http PUT "/enrollmentGroups/line-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"line-1",
	"attestation":{"type":"tpm","tpm":{"rootCertificates":['"$ROOTS"']}}}'
expect_eq "a TPM group trusts the swtpm manufacturer CA" 200 "$STATUS"

EKDER_FOR_CHECK=$T1/ek.der
full rsa-rsa "RSA EK (individual), RSA AK" "$T1/ek.pub" "$T1/ek.der" 0x81010001 rsa device-1
R1_ID=$LAST_ID R1_SECRET=$LAST_SECRET R1_SERIAL=$LAST_SERIAL
full rsa-p256 "RSA EK (individual, no EK certificate), P-256 AK" "$T1/ek.pub" - 0x81010001 ecc256 device-1
expect_eq "without an EK certificate the AK certificate still names the EK" "1" \
	"$(openssl x509 -in "$D/rsa-p256/c0.pem" -noout -ext subjectAltName | grep -c "urn:ek:sha256:")"
EKDER_FOR_CHECK=$T1/ek384.der
full ecc-p256 "ECC P-384 EK (group), P-256 AK" "$T1/ek384.pub" "$T1/ek384.der" 0x81010016 ecc256 "$REG1"
full ecc-p384 "ECC P-384 EK (group), P-384 AK" "$T1/ek384.pub" "$T1/ek384.der" 0x81010016 ecc384 "$REG1"
full ecc-rsa "ECC P-384 EK (group), RSA AK" "$T1/ek384.pub" "$T1/ek384.der" 0x81010016 rsa "$REG1"

http GET "/pki/certificates/$R1_SERIAL" "${W[@]}"
expect_eq "the AK certificate is recorded, under its profile, for its device" "200 attestation-key device-1" \
	"$STATUS $(jq -r '.profile + " " + .dps_registration' <<<"$BODY")"
expect_eq "five AK certificates, by EK" "0 5 5" "$(written)"

# --- single use, wrong secrets, expiry ----------------------------------------
before=$(written)
activate "$R1_ID" "$R1_SECRET"
expect_problem "a second activation: 403" 403 attestation-activation
ak_make "$D/w" 0x81010001 ecc256
challenge "$T1/ek.pub" "$T1/ek.der" "$D/w/ak.pub"
WID=$(jq -r .id <<<"$BODY")
activate_tpm "$D/w" 0x81010001
activate "$WID" "$(head -c 32 /dev/urandom | base64 -w0)"
expect_problem "a wrong secret: 403" 403 attestation-activation
activate "$WID" "$(b64f "$D/w/secret.bin")"
expect_problem "and the challenge is spent: the right secret after a wrong one is 403" 403 attestation-activation
challenge "$T1/ek.pub" "$T1/ek.der" "$D/w/ak.pub"
WID=$(jq -r .id <<<"$BODY")
activate_tpm "$D/w" 0x81010001
psql_q "UPDATE attest_ak_challenges SET expires_at = now() - interval '1 second' WHERE id = '$WID'" >/dev/null
activate "$WID" "$(b64f "$D/w/secret.bin")"
expect_problem "an expired challenge: 403" 403 attestation-activation
activate 0123456789abcdef0123456789abcdef "$(b64f "$D/w/secret.bin")"
expect_problem "an unknown challenge: 403" 403 attestation-activation
activate "$WID" "%%%"
expect_problem "a secret that is not base64: 400" 400 attestation-malformed
activate "$WID" "$(head -c 100 /dev/urandom | base64 -w0)"
expect_problem "a secret too long: 400" 400 invalid-field
http POST "/attestation/ak/$WID/activate" "${JSON[@]}" -d '{}'
expect_problem "no secret: 400" 400 invalid-field
expect_eq "no certificate issued by any of these" "$before" "$(written)"

# --- refusals at the challenge ------------------------------------------------
before=$(written)
challenge "$T1/ek.pub" "$T1/ek.der" "$T1/ek.pub"
expect_problem "an AK that is no restricted signing key (the EK): 403" 403 attestation-key-rejected
t tpm2_createprimary -C o -g sha256 -G ecc256 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' -c "$D/unr.ctx"
t tpm2_readpublic -c "$D/unr.ctx" -o "$D/unr.pub"
challenge "$T1/ek.pub" "$T1/ek.der" "$D/unr.pub"
expect_problem "an unrestricted signing key: 403" 403 attestation-key-rejected
challenge "$D/w/ak.pub" - "$D/w/ak.pub"
expect_problem "an EK that is no decryption key (an AK): 403" 403 attestation-ek-untrusted
http POST /attestation/ak/challenge "${JSON[@]}" -d '{"endorsementKey":"%%%","attestationKey":"'"$(b64f "$D/w/ak.pub")"'"}'
expect_problem "an endorsementKey that is not base64: 400" 400 attestation-malformed
http POST /attestation/ak/challenge "${JSON[@]}" -d '{"endorsementKey":"'"$(head -c 200 "$T1/ek.pub" | base64 -w0)"'","attestationKey":"'"$(b64f "$D/w/ak.pub")"'"}'
expect_problem "a truncated endorsementKey: 400" 400 attestation-malformed
http POST /attestation/ak/challenge "${JSON[@]}" -d '{"endorsementKey":"'"$(b64f "$T1/ek.pub")"'","attestationKey":"'"$(head -c 40 /dev/urandom | base64 -w0)"'"}'
expect_problem "an attestationKey that is no TPM2B_PUBLIC: 400" 400 attestation-malformed
http POST /attestation/ak/challenge "${JSON[@]}" -d '{"endorsementKey":"'"$(b64f "$T1/ek.pub")"'","endorsementKeyCertificate":"AAAA","attestationKey":"'"$(b64f "$D/w/ak.pub")"'"}'
expect_problem "an endorsementKeyCertificate that is no certificate: 400" 400 attestation-malformed
challenge "$T1/ek.pub" "$T1/ek384.der" "$D/w/ak.pub"
expect_problem "an EK certificate of another key: 403" 403 attestation-ek-untrusted
http POST /attestation/ak/challenge "${JSON[@]}" -d '{"attestationKey":"'"$(b64f "$D/w/ak.pub")"'"}'
expect_problem "no endorsementKey: 400" 400 invalid-field
http POST /attestation/ak/challenge "${JSON[@]}" -d '[1]'
expect_problem "a body that is no object: 400" 400 invalid-field
expect_eq "nothing written by the refusals" "$before" "$(written)"
psql_q "DELETE FROM attest_ak_challenges" >/dev/null
for i in $(seq 1 16); do challenge "$T1/ek.pub" - "$D/w/ak.pub"; [[ $STATUS == 201 ]] || break; done
expect_eq "an EK may hold 16 pending challenges" "201 16" "$STATUS $(psql_q "SELECT count(*) FROM attest_ak_challenges")"
challenge "$T1/ek.pub" - "$D/w/ak.pub"
expect_problem "the 17th: 429" 429 attestation-too-many
expect "with Retry-After" grep -qi '^retry-after:' <<<"$HEADERS"
expect_eq "and it is not recorded" 16 "$(psql_q "SELECT count(*) FROM attest_ak_challenges")"
psql_q "UPDATE attest_ak_challenges SET expires_at = now() - interval '1 second'" >/dev/null
challenge "$T1/ek.pub" - "$D/w/ak.pub"
expect_eq "expired ones do not count" 201 "$STATUS"
psql_q "DELETE FROM attest_ak_challenges" >/dev/null

# --- disabled enrollments, revoked AK certificates --------------------------------
enroll_device1() { # STATUS
	http PUT "/enrollments/device-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"device-1","provisioningStatus":"'"$1"'",
		"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(b64f "$T1/ek.pub")"'"}}}'
}
group_line1() { # STATUS ROOTS-JSON
	http PUT "/enrollmentGroups/line-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"line-1","provisioningStatus":"'"$1"'",
		"attestation":{"type":"tpm","tpm":{"rootCertificates":['"$2"']}}}'
}
# pending ROUND EKPUB EKDER|- EKHANDLE: a challenge answered by the TPM, not yet activated
pending() {
	ak_make "$D/$1" "$4" ecc256 && challenge "$2" "$3" "$D/$1/ak.pub" && [[ $STATUS == 201 ]] &&
		PID_=$(jq -r .id <<<"$BODY") && activate_tpm "$D/$1" "$4" && PSECRET=$(b64f "$D/$1/secret.bin")
}
before=$(written)
pending p1 "$T1/ek.pub" - 0x81010001
expect_eq "a pending challenge for the individual enrollment" 0 $?
P1=$PID_ P1S=$PSECRET
enroll_device1 disabled
expect_eq "the enrollment is disabled" "200 disabled" "$STATUS $(jq -r .provisioningStatus <<<"$BODY")"
activate "$P1" "$P1S"
expect_problem "activation for a disabled enrollment: 403" 403 attestation-enrollment-disabled
challenge "$T1/ek.pub" "$T1/ek.der" "$D/w/ak.pub"
expect_problem "a challenge for a disabled enrollment: 403" 403 attestation-enrollment-disabled
enroll_device1 enabled
pending p2 "$T1/ek384.pub" "$T1/ek384.der" 0x81010016
expect_eq "a pending challenge for the group" 0 $?
P2=$PID_ P2S=$PSECRET
group_line1 disabled "$ROOTS"
activate "$P2" "$P2S"
expect_problem "activation for a disabled group: 403" 403 attestation-enrollment-disabled
challenge "$T1/ek384.pub" "$T1/ek384.der" "$D/w/ak.pub"
expect_problem "a challenge for a disabled group: 403" 403 attestation-enrollment-disabled
group_line1 enabled "$ROOTS"
expect_eq "no certificate issued for disabled enrollments" "$before" "$(written)"

pending p3 "$T1/ek.pub" "$T1/ek.der" 0x81010001
expect_eq "a pending challenge before the revocation" 0 $?
P3=$PID_ P3S=$PSECRET
crl_serials() { openssl crl -inform DER -in "$TMP/body" -noout -text | sed -n 's/^ *Serial Number: *//p' | tr A-F a-f; }
http GET /attestation/crl 2>/dev/null
expect_eq "GET /attestation/crl (no token): 200 application/pkix-crl, nothing revoked yet" "200 1 " \
	"$STATUS $(grep -ci '^content-type: application/pkix-crl' <<<"$HEADERS") $(crl_serials)"
openssl crl -inform DER -in "$TMP/body" -out "$D/att-crl0.pem"
expect "  signed by the attestation CA" openssl crl -in "$D/att-crl0.pem" -CAfile "$D/rsa-rsa/c1.pem" -noout
expect "  with a nextUpdate" grep -q "Next Update: [A-Z]" <(openssl crl -in "$D/att-crl0.pem" -noout -text)
expect "openssl verify -crl_check: the AK certificate verifies with the attestation CRL" \
	openssl verify -crl_check -CAfile "$D/rsa-rsa/c2.pem" -untrusted "$D/rsa-rsa/c1.pem" -CRLfile "$D/att-crl0.pem" "$D/rsa-rsa/c0.pem"
http POST "/pki/certificates/$R1_SERIAL/revoke" "${W[@]}" "${JSON[@]}" -d '{"reason":"keyCompromise"}'
expect_eq "an operator revokes the first AK certificate" 204 "$STATUS"
# The revocation's NOTIFY makes the cached CRL stale; it arrives after commit.
for _ in $(seq 1 50); do
	http GET /attestation/crl 2>/dev/null
	[[ -n $(crl_serials) ]] && break
	sleep 0.1
done
expect_eq "the attestation CRL lists the revoked AK certificate (and only it)" "$(sed 's/^0*//' <<<"$R1_SERIAL")" "$(crl_serials | sed 's/^0*//')"
openssl crl -inform DER -in "$TMP/body" -out "$D/att-crl1.pem"
expect "  with reason keyCompromise" grep -q "Key Compromise" <(openssl crl -in "$D/att-crl1.pem" -noout -text)
openssl verify -crl_check -CAfile "$D/rsa-rsa/c2.pem" -untrusted "$D/rsa-rsa/c1.pem" -CRLfile "$D/att-crl1.pem" "$D/rsa-rsa/c0.pem" >"$D/v.out" 2>&1
expect "openssl verify -crl_check: the revoked AK certificate is refused" grep -q "certificate revoked" "$D/v.out"
http GET /pki/crl "${W[@]}" 2>/dev/null
expect_eq "the TLS intermediate's CRL (/pki/crl) does not list it: another issuer" "200 " "$STATUS $(crl_serials)"
before=$(issued)
activate "$P3" "$P3S"
expect_problem "activation after an AK certificate of that TPM was revoked: 403" 403 attestation-ak-revoked
challenge "$T1/ek.pub" "$T1/ek.der" "$D/w/ak.pub"
expect_problem "and every later challenge for that EK: 403" 403 attestation-ak-revoked
expect_eq "nothing issued" "$before" "$(issued)"
challenge "$T1/ek384.pub" "$T1/ek384.der" "$D/w/ak.pub"
expect_eq "the TPM's other EK (no revoked certificate) still gets challenges" 201 "$STATUS"

# --- a second TPM ----------------------------------------------------------------
ak_make "$D/x1" 0x81010016 ecc256
challenge "$T1/ek384.pub" "$T1/ek384.der" "$D/x1/ak.pub"
X_BODY=$BODY
swtpm_stop
tpm_up "$TMP/tpm2" || { tap_nok "second swtpm starts"; tap_done; exit 1; }
T2=$TMP/tpm2
ak_make "$D/t2" 0x81010016 ecc256
BODY=$X_BODY
expect_fail "a second TPM cannot recover the secret of the first one's challenge" activate_tpm "$D/t2" 0x81010016
group_line1 enabled "$(jq -Rs . <<<"$(cat "$T1"/ca/*cert*.pem "$T2"/ca/*cert*.pem)")"
# An individual enrollment holds the registration ID derived from TPM2's ECC
# EK but pins another EK: the group may not name TPM2 by it.
REG2_384=$(ek_registration_id "$T2/ek384.pub")
http PUT "/enrollments/$REG2_384?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"'"$REG2_384"'",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(b64f "$T2/ek.pub")"'"}}}'
challenge "$T2/ek384.pub" "$T2/ek384.der" "$D/t2/ak.pub"
expect_problem "a group device whose registration ID an individual enrollment of another EK holds: 403" 403 attestation-ek-untrusted
expect "for that reason" grep -q "belongs to an individual enrollment of another EK" <<<"$BODY"
http DELETE "/enrollments/$REG2_384?$AV" "${W[@]}"
challenge "$T2/ek384.pub" "$T2/ek384.der" "$D/t2/ak.pub"
expect_eq "without it, the group accepts that EK" 201 "$STATUS"
psql_q "DELETE FROM attest_ak_challenges" >/dev/null
before=$(written)
challenge "$T2/ek.pub" - "$D/t2/ak.pub"
expect_problem "an EK that is not enrolled (no certificate): 403" 403 attestation-ek-untrusted
mkdir -p "$D/other"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/other/k.pem" \
	-subj /CN=other-root -days 30 -out "$D/other/root.pem" 2>/dev/null
group_line1 enabled "$(jq -Rs . <"$D/other/root.pem")"
challenge "$T2/ek384.pub" "$T2/ek384.der" "$D/t2/ak.pub"
expect_problem "an EK certificate chaining to no group's roots: 403" 403 attestation-ek-untrusted
expect_eq "nothing written" "$before" "$(written)"
# An individual enrollment's EK certificate that no group's roots sign: its
# TPM name is not vouched for, so the AK certificate leaves it out.
http PUT "/enrollments/device-2?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"device-2",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(b64f "$T2/ek.pub")"'"}}}'
NODIR=1 full t2-ind "RSA EK (individual), EK certificate of an untrusted maker" "$T2/ek.pub" "$T2/ek.der" 0x81010001 ecc256 device-2
expect_eq "and carries no TPM name" 0 "$(openssl x509 -in "$D/t2-ind/c0.pem" -noout -ext subjectAltName | grep -c DirName)"
! grep -q "$P3S" "$OLOG"
expect_eq "no secret in the log" 0 $?

orchardd_stop
expect_eq "orchardd exits cleanly" 0 $?
tap_done
