#!/bin/bash
# device-attest-01 with external attestation roots (--attest-roots): a
# test-made "vendor" attestation CA certifies the swtpm's AK, orchardd
# trusts it beside its own attestation CA, and build/orchard-attest sends
# that chain. The identifier check is never skipped; the device must be
# enrolled and enabled, revoking the device's AK certificate stops this
# route too, and its enrollment's quote gate applies. Unreadable roots
# files stop orchardd at start.
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
D=$TMP/dev
mkdir -p "$D"

# ca NAME: a P-256 attestation CA
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/$1.key" \
		-out "$D/$1.pem" -subj "/CN=$1" -days 30 -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# akcert CA OUT SAN: an AK certificate for the TPM's AK ($D/akpub.pem), signed
# by CA, with SAN (an openssl subjectAltName value, or "" for none); OUT
# gets the AK certificate then CA's
akcert() {
	{
		echo "[ak]"
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=2.23.133.8.3"
		echo "authorityKeyIdentifier=keyid"
		[[ -n $3 ]] && echo "subjectAltName=critical,$3"
		echo "[permid]"
		echo "field1=UTF8:${PERMID:-device-1}"
		echo "[hwmod]"
		echo "field1=OID:1.3.6.1.4.1.99999.1"
		echo "field2=FORMAT:ASCII,OCTETSTRING:${PERMID:-device-1}"
	} >"$D/ext.cnf"
	openssl x509 -new -subj "/CN=vendor-ak" -force_pubkey "$D/akpub.pem" -CA "$D/$1.pem" \
		-CAkey "$D/$1.key" -extfile "$D/ext.cnf" -extensions ak -days 30 -out "$D/$2" 2>/dev/null &&
		cat "$D/$1.pem" >>"$D/$2"
}

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
ca vendor
ca rogue
printf 'no certificate here\n' >"$D/garbage.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/leaf.key" -out "$D/leaf.pem" \
	-subj /CN=leaf -days 1 -addext basicConstraints=critical,CA:FALSE 2>/dev/null
orchardd_start --attest-roots "$D/garbage.pem" 2>/dev/null
expect_eq "a roots file without a certificate: orchardd does not start" "" "${PORT:-}"
expect "  (and says why)" grep -q "cannot read the external attestation roots" "$OLOG"
orchardd_start --attest-roots "$D/leaf.pem" 2>/dev/null
expect_eq "a roots file with a certificate that is no CA: orchardd does not start" "" "${PORT:-}"
orchardd_start --attest-roots "$D/missing.pem" 2>/dev/null
expect_eq "a roots file that does not exist: orchardd does not start" "" "${PORT:-}"
ORCHARD_ATTEST_ROOTS=$D/vendor.pem orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
expect "orchardd starts with ORCHARD_ATTEST_ROOTS, and logs it" grep -q '"msg":"external attestation roots".*"certificates":"1"' "$OLOG"

W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read pki:admin)")
swtpm_start "$TMP/tpm1" >/dev/null || { tap_nok "swtpm starts"; tap_done; exit 1; }
swtpm_t tpm2_readpublic -c 0x81010001 -o "$D/ek.pub"
enroll() { # ID STATUS
	http PUT "/enrollments/$1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"'"$1"'","provisioningStatus":"'"$2"'",
		"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(base64 -w0 <"$D/ek.pub")"'"}}}'
}
enroll device-1 enabled
expect_eq "device-1 is enrolled (its EK pinned)" 200 "$STATUS"

attest() {
	local name=$1
	shift
	OUT=$("$ATTEST" --server "$URL" --cacert "$TMP/var/pki/root.pem" --out "$D/$name.pem" "$@" 2>"$D/$name.err" | tail -1)
}
bad() { # NAME GREP ARGS...
	local name=$1 says=$2 before
	shift 2
	before=$(issued)
	attest "$name" "$@"
	expect_eq "$name: refused at the challenge (badAttestationStatement)" \
		"false challenge urn:ietf:params:acme:error:badAttestationStatement" \
		"$(jq -r '[.ok, .step, .problem.type] | join(" ")' <<<"$OUT")"
	expect "  (the detail says \"$says\")" grep -q -- "$says" <<<"$(jq -r .problem.detail <<<"$OUT")"
	expect_eq "  (nothing issued)" "$before" "$(issued)"
}

attest orchard-ak --id device-1 --ak-chain-out "$D/ak-orchard.pem"
expect_eq "Orchard's own AK certificate still works beside external roots" true "$(jq -r .ok <<<"$OUT")"
openssl x509 -in "$D/ak-orchard.pem" -pubkey -noout >"$D/akpub.pem"

akcert vendor vendor-ak-chain.pem "otherName:1.3.6.1.5.5.7.8.3;SEQUENCE:permid"
attest vendor-ak --id device-1 --ak-chain-in "$D/vendor-ak-chain.pem"
expect_eq "an AK certificate from the vendor's attestation CA: issued" "true 2" "$(jq -r .ok <<<"$OUT") $(issued)"
expect "  (the device certificate verifies against Orchard's root)" openssl verify -CAfile "$TMP/var/pki/root.pem" -untrusted "$D/vendor-ak.pem" <(openssl x509 -in "$D/vendor-ak.pem")
expect_eq "  (the authorization records the vendor AK certificate's serial)" \
	"$(openssl x509 -in "$D/vendor-ak-chain.pem" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')" \
	"$(psql_q "SELECT ltrim(attested_ak_serial, '0') FROM acme_authzs WHERE status = 'valid' ORDER BY updated_at DESC LIMIT 1")"

akcert vendor no-id.pem "URI:urn:example:no-identifier"
bad vendor-ak-without-identifier "does not name device-1" --id device-1 --ak-chain-in "$D/no-id.pem"
akcert vendor no-san.pem ""
bad vendor-ak-without-san "does not name device-1" --id device-1 --ak-chain-in "$D/no-san.pem"
PERMID=device-2 akcert vendor other.pem "otherName:1.3.6.1.5.5.7.8.3;SEQUENCE:permid"
bad vendor-ak-of-another-device "does not name device-1" --id device-1 --ak-chain-in "$D/other.pem"
PERMID=device-9 akcert vendor unenrolled.pem "otherName:1.3.6.1.5.5.7.8.3;SEQUENCE:permid"
bad vendor-ak-device-not-enrolled "no enrollment or registration" --id device-9 --ak-chain-in "$D/unenrolled.pem"
akcert rogue rogue-ak.pem "otherName:1.3.6.1.5.5.7.8.3;SEQUENCE:permid"
bad ak-from-an-unconfigured-ca "does not chain" --id device-1 --ak-chain-in "$D/rogue-ak.pem"

# A vendor CA may name the device by HardwareModuleName (RFC 4108) instead:
# the order is then for hardware-module "serial/hwType-OID", and the serial
# is the registration ID.
akcert vendor hwmod-chain.pem "otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hwmod"
HW=(--order-type hardware-module --ak-chain-in "$D/hwmod-chain.pem")
attest vendor-hwmod --id device-1 --order-id device-1/1.3.6.1.4.1.99999.1 "${HW[@]}"
expect_eq "a vendor AK certificate with HardwareModuleName: a hardware-module order is issued" true "$(jq -r .ok <<<"$OUT")"
expect "  (the certificate carries the HardwareModuleName)" python3 -c 'import sys; d = open(sys.argv[1], "rb").read()
sys.exit(0 if bytes.fromhex("06082b06010505070804") in d and b"device-1" in d else 1)' <(openssl x509 -in "$D/vendor-hwmod.pem" -outform der)
bad vendor-hwmod-other-type "does not name" --id device-1 --order-id device-1/1.3.6.1.4.1.99999.2 "${HW[@]}"
PERMID=device-9 akcert vendor hwmod9-chain.pem "otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hwmod"
bad vendor-hwmod-not-enrolled "no enrollment or registration" --id device-1 --order-id device-9/1.3.6.1.4.1.99999.1 \
	--order-type hardware-module --ak-chain-in "$D/hwmod9-chain.pem"
bad vendor-hwmod-for-a-permid-order "does not name" --id device-1 --ak-chain-in "$D/hwmod-chain.pem"

http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d '{"pcrs":{"sha256":{"7":["'"$(printf '0%.0s' {1..64})"'"]}}}'
bad vendor-ak-quote-gate "needs a quote" --id device-1 --ak-chain-in "$D/vendor-ak-chain.pem"
good_quote() { attest vendor-ak-quote --id device-1 --ak-chain-in "$D/vendor-ak-chain.pem" --quote 7; }
good_quote
expect_eq "  the enrollment's policy holds with a quote (PCR 7 untouched): issued" true "$(jq -r .ok <<<"$OUT")"

enroll device-1 disabled
bad vendor-ak-disabled-enrollment "disabled" --id device-1 --ak-chain-in "$D/vendor-ak-chain.pem"
enroll device-1 enabled
SERIAL=$(openssl x509 -in "$D/ak-orchard.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
http POST "/pki/certificates/$SERIAL/revoke" "${W[@]}" "${JSON[@]}" -d '{"reason":"keyCompromise"}'
expect_eq "an operator revokes device-1's (Orchard) AK certificate" 204 "$STATUS"
bad vendor-ak-after-revocation "revoked" --id device-1 --ak-chain-in "$D/vendor-ak-chain.pem"

expect_eq "orchard-attest: no sanitizer report in any run" "" "$(grep -l Sanitizer "$D"/*.err 2>/dev/null)"
orchardd_stop
expect_eq "orchardd exits cleanly (no sanitizer report)" 0 $?
tap_done
