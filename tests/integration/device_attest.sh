#!/bin/bash
# device-attest-01 end to end with a real swtpm and build/orchard-attest
# (clients/attest, tpm2-tss ESYS): the AK certificate from Orchard's
# attestation CA, an ACME order for the permanent-identifier, TPM2_Certify
# qualified with SHA-256(key authorization), a CSR the TPM key signs, the
# certificate verified against the root with its PermanentIdentifier. RSA
# and ECC keys, RSA and ECC EKs. Then
# every kind of bad evidence: the challenge (or finalize) refused with
# badAttestationStatement (badCSR), and nothing issued. The quote gate: a
# policy on an enrollment, a quote that satisfies it, a PCR that drifts.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/swtpm.sh
cleanup() { swtpm_cleanup; fixture_cleanup; }
trap cleanup EXIT
ATTEST=$ROOT/$BUILD/orchard-attest
issued() { psql_q "SELECT count(*) FROM certificates WHERE profile = 'device-client'"; }
b64f() { base64 -w0 <"$1"; }

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read pki:admin)")
D=$TMP/dev
mkdir -p "$D"
swtpm_start "$TMP/tpm1" >/dev/null || { tap_nok "swtpm starts"; tap_done; exit 1; }
swtpm_t tpm2_readpublic -c 0x81010001 -o "$D/ek.pub"
swtpm_t tpm2_readpublic -c 0x81010016 -o "$D/ek384.pub"
http PUT "/enrollments/device-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"device-1",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(b64f "$D/ek.pub")"'"}}}'
expect_eq "an individual enrollment pins the RSA EK" 200 "$STATUS"
http PUT "/enrollments/device-2?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"device-2",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(b64f "$D/ek384.pub")"'"}}}'
expect_eq "another device pins the ECC (P-384) EK" 200 "$STATUS"

# attest NAME ARGS...: runs orchard-attest, sets OUT (its JSON line)
attest() {
	local name=$1
	shift
	OUT=$("$ATTEST" --server "$URL" --cacert "$TMP/var/pki/root.pem" --out "$D/$name.pem" "$@" 2>"$D/$name.err" | tail -1)
}
# good NAME ID ARGS...: the whole flow works and the certificate is right
good() {
	local name=$1 id=$2 text
	shift 2
	attest "$name" --id "$id" "$@"
	if [[ $(jq -r .ok <<<"$OUT") != true ]]; then
		tap_nok "$name: issued" "$OUT $(cat "$D/$name.err")"
		return
	fi
	tap_ok "$name: issued"
	openssl x509 -in "$D/$name.pem" -out "$D/$name.leaf.pem" || return
	expect "$name: the chain verifies against the root (clientAuth)" \
		openssl verify -CAfile "$TMP/var/pki/root.pem" -untrusted "$D/$name.pem" -purpose sslclient "$D/$name.leaf.pem"
	# otherName id-on-permanentIdentifier [0] { SEQUENCE { UTF8String id } }
	expect "$name: the certificate carries PermanentIdentifier $id" python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); v = sys.argv[2].encode()
want = bytes.fromhex("06082b06010505070803") + bytes([0xa0, len(v) + 4, 0x30, len(v) + 2, 0x0c, len(v)]) + v
sys.exit(0 if want in d else 1)' <(openssl x509 -in "$D/$name.leaf.pem" -outform der) "$id"
	text=$(openssl x509 -in "$D/$name.leaf.pem" -noout -dates)
	local nb na
	nb=$(date -d "$(sed -n 's/notBefore=//p' <<<"$text")" +%s)
	na=$(date -d "$(sed -n 's/notAfter=//p' <<<"$text")" +%s)
	expect "$name: short-lived (device-client, at most 24 h)" test $((na - nb)) -le $((24 * 3600 + 600))
}
# bad NAME STEP TYPE ARGS...: refused at STEP with that ACME error type, nothing issued
bad() {
	local name=$1 step=$2 type=$3 before
	shift 3
	before=$(issued)
	attest "$name" "$@"
	expect_eq "$name: refused at $step with $type" "false $step urn:ietf:params:acme:error:$type" \
		"$(jq -r '[.ok, .step, .problem.type] | join(" ")' <<<"$OUT")"
	expect_eq "$name: nothing issued" "$before" "$(issued)"
}

# --- the whole flow ------------------------------------------------------------
good ecc-key-rsa-ek device-1 --attobj-out "$D/replay.cbor" --ak-chain-out "$D/ak1.pem"
good rsa-key-rsa-ek device-1 --key-rsa
good ecc-key-ecc-ek device-2 --ek-ecc --ak-chain-out "$D/ak2.pem"
good rsa-ak-rsa-key device-2 --ek-ecc --ak-rsa --key-rsa
good renewal-same-ak device-1 --ak-chain-in "$D/ak1.pem"
good csr-cn-is-the-id device-1 --csr-cn device-1
expect_eq "six device-client certificates" 6 "$(issued)"
expect_eq "the order named no profile: device-client, recorded for the device" "device-client" \
	"$(psql_q "SELECT DISTINCT profile FROM certificates WHERE sans LIKE '%device-1%' AND profile <> 'attestation-key'")"

# --- bad evidence: the challenge fails, nothing is issued ----------------------
printf 'not cbor at all' >"$D/text.bin"
bad not-cbor challenge badAttestationStatement --id device-1 --attobj-in "$D/text.bin"
printf '\xa2\x63fmt\x66packed\x67attStmt\xa0' >"$D/packed.cbor"
bad packed-fmt challenge badAttestationStatement --id device-1 --attobj-in "$D/packed.cbor"
expect "  (the detail says why packed is refused)" grep -q "packed.*cannot prove the key is TPM-resident" <<<"$(jq -r .problem.detail <<<"$OUT")"
printf '\xa2\x63fmt\x64none\x67attStmt\xa0' >"$D/none.cbor"
bad unknown-fmt challenge badAttestationStatement --id device-1 --attobj-in "$D/none.cbor"
openssl x509 -in "$D/ecc-key-rsa-ek.leaf.pem" -outform der -out "$D/device-cert.der"
bad x5c-not-chaining challenge badAttestationStatement --id device-1 --x5c0 "$D/device-cert.der"
expect "  (a certificate of Orchard's own device CA, under the same root)" grep -q "does not chain" <<<"$(jq -r .problem.detail <<<"$OUT")"
bad ak-of-another-device challenge badAttestationStatement --id device-1 --order-id device-2
expect "  (the detail names the identifier)" grep -q "does not name device-2" <<<"$(jq -r .problem.detail <<<"$OUT")"
bad extradata-00ff55aa challenge badAttestationStatement --id device-1 --qualify 00ff55aa
expect "  (the detail says extraData)" grep -q "extraData" <<<"$(jq -r .problem.detail <<<"$OUT")"
bad certinfo-of-another-key challenge badAttestationStatement --id device-1 --pubarea-other
expect "  (the detail says another key)" grep -q "another key" <<<"$(jq -r .problem.detail <<<"$OUT")"
bad replayed-attobj challenge badAttestationStatement --id device-1 --attobj-in "$D/replay.cbor"
bad csr-of-another-key finalize badCSR --id device-1 --csr-other
expect "  (the detail says the attested key)" grep -q "attested" <<<"$(jq -r .problem.detail <<<"$OUT")"
bad csr-cn-of-another finalize badCSR --id device-1 --csr-cn device-2
attest bound-account --id device-1 --then-order device-2
expect_eq "an account bound to device-1 orders for device-2: rejectedIdentifier at newOrder" \
	"false then-order 400 urn:ietf:params:acme:error:rejectedIdentifier" \
	"$(jq -r '[.ok, .step, .status, .problem.type] | join(" ")' <<<"$OUT")"
attest bound-account-same --id device-1 --then-order device-1
expect_eq "and for device-1 again: 201" true "$(jq -r .ok <<<"$OUT")"
bad attobj-not-base64url challenge malformed --id device-1 --attobj-text '%%%'
bad bad-identifier order rejectedIdentifier --id device-1 --order-id 'a b'
expect_eq "the challenges failed are recorded invalid, with the problem" "8" \
	"$(psql_q "SELECT count(*) FROM acme_challenges WHERE type = 'device-attest-01' AND status = 'invalid' AND error->>'type' = 'urn:ietf:params:acme:error:badAttestationStatement'")"
expect_eq "no failed authorization kept a key" "0" \
	"$(psql_q "SELECT count(*) FROM acme_authzs WHERE status <> 'valid' AND attested_key IS NOT NULL")"

# --- the quote gate: a fleet policy on device-1's enrollment ---------------------
pcr() { tpm2_pcrread "sha256:$1" 2>/dev/null | sed -n "s/^ *$1 *: *0x//p" | tr 'A-F' 'a-f'; }
P0=$(pcr 0) P7=$(pcr 7)
POLICY='{"pcrs":{"sha256":{"0":["'"$P0"'"],"7":["'"$P7"'"]}}}'
http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d "$POLICY"
expect_eq "an operator sets device-1's policy (PCRs 0 and 7 as they are now)" "200 $P7" "$STATUS $(jq -r '.pcrs.sha256["7"][0]' <<<"$BODY")"
http GET /attestation/policies/individual/device-1 "${W[@]}"
expect_eq "and reads it back" "200 $P0" "$STATUS $(jq -r '.pcrs.sha256["0"][0]' <<<"$BODY")"
http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d '{"pcr":{}}'
expect_problem "a policy the verifier does not accept: 400" 400 attestation-malformed
http PUT /attestation/policies/fleet/device-1 "${W[@]}" "${JSON[@]}" -d "$POLICY"
expect_problem "a kind that is neither individual nor group: 404" 404 not-found
http GET /attestation/policies/group/line-9 "${W[@]}"
expect_problem "no policy: 404" 404 not-found
http GET /attestation/policies/individual/device-1 -H "Authorization: Bearer $(token twins:read)"
expect_eq "without enrollments:read: 403" 403 "$STATUS"
bad gate-no-quote challenge badAttestationStatement --id device-1
expect "  (the detail says a quote is needed)" grep -q "needs a quote" <<<"$(jq -r .problem.detail <<<"$OUT")"
good gate-quote device-1 --quote 0,7
expect_eq "the verdict is recorded on the authorization" "true individual/device-1" \
	"$(psql_q "SELECT concat_ws(' ', attestation_verdict->>'passed', attestation_verdict->>'policy') FROM acme_authzs WHERE status = 'valid' AND attestation_verdict IS NOT NULL ORDER BY updated_at DESC LIMIT 1")"
bad gate-subset challenge badAttestationStatement --id device-1 --quote 0
tpm2_pcrextend "7:sha256=$(printf drift | sha256sum | cut -c1-64)" >/dev/null 2>&1
bad gate-drift challenge badAttestationStatement --id device-1 --quote 0,7
expect "  (the detail names the policy and PCR 7)" grep -q "does not satisfy policy individual/device-1:.*7" <<<"$(jq -r .problem.detail <<<"$OUT")"
expect_eq "the failing verdict is recorded, PCR 7 mismatching" "false 7 pcr-mismatch" \
	"$(psql_q "SELECT concat_ws(' ', attestation_verdict->>'passed', attestation_verdict->'failures'->0->>'pcr', attestation_verdict->'failures'->0->>'code') FROM acme_authzs WHERE attestation_verdict IS NOT NULL ORDER BY updated_at DESC LIMIT 1")"
good gate-other-device device-2 --ek-ecc
expect_eq "a device of another enrollment is not gated" 10 "$(issued)"

# --- the AK certificate's standing -----------------------------------------------
http PUT "/enrollments/device-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"device-1","provisioningStatus":"disabled",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(b64f "$D/ek.pub")"'"}}}'
expect_eq "device-1's enrollment is disabled" "200 disabled" "$STATUS $(jq -r .provisioningStatus <<<"$BODY")"
bad disabled-enrollment challenge badAttestationStatement --id device-1 --ak-chain-in "$D/ak1.pem"
expect "  (the detail says disabled)" grep -q "disabled" <<<"$(jq -r .problem.detail <<<"$OUT")"
SERIAL=$(openssl x509 -in "$D/ak2.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
http POST "/pki/certificates/$SERIAL/revoke" "${W[@]}" "${JSON[@]}" -d '{"reason":"keyCompromise"}'
expect_eq "an operator revokes device-2's AK certificate" 204 "$STATUS"
bad revoked-ak challenge badAttestationStatement --id device-2 --ek-ecc --ak-chain-in "$D/ak2.pem"
expect "  (the detail says revoked)" grep -q "revoked" <<<"$(jq -r .problem.detail <<<"$OUT")"
expect_eq "still ten device-client certificates" 10 "$(issued)"

expect_eq "orchard-attest: no sanitizer report in any run" "" "$(grep -l Sanitizer "$D"/*.err 2>/dev/null)"
orchardd_stop
expect_eq "orchardd exits cleanly (no sanitizer report)" 0 $?
tap_done
