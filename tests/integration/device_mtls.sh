#!/bin/bash
# A TPM device reads its own twin over mutual TLS with a key its TPM holds
# (clients/attest: tpm_pkey.c, a built-in OpenSSL provider signing through
# orchard-attest's own ESYS context; swtpm's socket TCTI allows one
# connection). The device registers through DPS (TPM flow, tpm2-tools),
# earns its certificate by device-attest-01 with the key saved under a
# folder, reads GET /devices/{id}/twin with it, again from a new process
# (the key loaded from the saved files), with ECC and RSA keys; it renews
# with `replaces` (RFC 9773) and the new certificate's window starts about
# two thirds into its life. Refused: another device's twin (403), a
# revoked certificate (401), a key file of another TPM key.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/swtpm.sh
. tests/lib/dps_tpm.sh
cleanup() { swtpm_cleanup; fixture_cleanup; }
trap cleanup EXIT
ATTEST=$ROOT/$BUILD/orchard-attest
D=$TMP/dev
mkdir -p "$D"

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token all)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
swtpm_start "$TMP/tpm1" >/dev/null || { tap_nok "swtpm starts"; tap_done; exit 1; }
expect "the TPM has an SRK for DPS" dps_tpm_srk "$D/tpm"

# mtls-1: a TPM enrollment pinning the EK, registered through DPS.
http PUT "/enrollments/mtls-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"mtls-1",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(base64 -w0 <"$D/tpm/ek.pub")"'"}},
	"initialTwin":{"properties":{"desired":{"app":"blink"}}}}'
expect_eq "an enrollment pins the TPM's EK" 200 "$STATUS"
expect "the TPM registers through DPS and is assigned" dps_tpm_register "$D/tpm" mtls-1
# other-1: a second device (symmetric key), whose twin mtls-1 must not read.
http PUT "/enrollments/other-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"other-1","attestation":{"type":"symmetricKey"}}'
KEY=$(jq -r .attestation.symmetricKey.primaryKey <<<"$BODY")
http PUT "/$SCOPE/registrations/other-1/register?$AV" "${JSON[@]}" -H "Authorization: $(dps_sas "$SCOPE/registrations/other-1" "$KEY")" \
	-d '{"registrationId":"other-1"}'
expect_eq "another device registers" "200 assigned" "$STATUS $(jq -r .status <<<"$BODY")"

# attest NAME ARGS...: runs orchard-attest, sets OUT (its JSON line)
attest() {
	local name=$1
	shift
	OUT=$("$ATTEST" --server "$URL" --cacert "$TMP/var/pki/root.pem" "$@" 2>"$D/$name.err" | tail -1)
}
ok_twin() { # NAME: the run succeeded and read mtls-1's twin
	expect_eq "$1" "true mtls-1 blink" "$(jq -r '[.ok, .twin.deviceId, .twin.properties.desired.app] | join(" ")' <<<"$OUT")"
}
refused() { # NAME STATUS TYPE-SUFFIX
	expect_eq "$1" "false twin $2 $3" "$(jq -r '[.ok, .step, .status, (.problem.type // "" | sub(".*/"; ""))] | join(" ")' <<<"$OUT")"
}

# --- ECC P-256 key -----------------------------------------------------------
K=$D/ecc
attest issue --id mtls-1 --key-dir "$K" --account-key "$D/account.pem" --ak-chain-out "$D/ak.pem" \
	--out "$D/ecc.pem" --twin mtls-1
ok_twin "device-attest-01, then the twin over mTLS with the TPM-held P-256 key (one TPM connection)"
[[ $(jq -r .ok <<<"$OUT") == true ]] || cat "$D/issue.err" >&2
expect_eq "the key's blobs are saved 0600 in a 0700 folder" "600 600 700" \
	"$(stat -c %a "$K/tls.pub" "$K/tls.priv" "$K" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "and the account key 0600" 600 "$(stat -c %a "$D/account.pem")"
attest reuse --use --key-dir "$K" --out "$D/ecc.pem" --twin mtls-1
ok_twin "a new process loads the saved key into the TPM and reads the twin again"
attest failed-renewal --id mtls-1 --ak-chain-in "$D/ak.pem" --key-dir "$K" --csr-other --out "$D/never.pem"
expect_eq "an issuance that fails at finalize into the same key folder" "false finalize badCSR" \
	"$(jq -r '[.ok, .step, (.problem.type // "" | sub(".*:"; ""))] | join(" ")' <<<"$OUT")"
attest after-failed --use --key-dir "$K" --out "$D/ecc.pem" --twin mtls-1
ok_twin "  leaves the saved key that matches the certificate in use"
attest tls12 --use --tls12 --key-dir "$K" --out "$D/ecc.pem" --twin mtls-1
ok_twin "and over TLS 1.2 (ECDSA in CertificateVerify)"
expect "  (orchardd speaks TLS 1.2: the run could not have used 1.3)" \
	openssl s_client -connect "${URL#https://}" -tls1_2 -CAfile "$TMP/var/pki/root.pem" </dev/null
expect_eq "swtpm holds no transient object after the runs" "" "$(tpm2_getcap handles-transient 2>/dev/null)"
# A crash: a run leaves three objects in the TPM (swtpm's limit), so the
# next run cannot load its key until it flushes them.
for _ in 1 2 3; do tpm2_createprimary -C o -G ecc -c /dev/null >/dev/null 2>&1; done
attest full --use --key-dir "$K" --out "$D/ecc.pem" --twin mtls-1
expect_eq "a TPM full of a crashed run's objects: the key does not load" "false key-load" "$(jq -r '[.ok, .step] | join(" ")' <<<"$OUT")"
attest recover --recover --use --key-dir "$K" --out "$D/ecc.pem" --twin mtls-1
expect_eq "--recover flushes them first (oa_tpm_flush_transient), then the twin" "true 3 mtls-1" \
	"$(jq -r '[.ok, .flushed, .twin.deviceId] | join(" ")' <<<"$OUT")"
BEFORE=$(psql_q "SELECT etag || version FROM twins WHERE device_id = 'other-1'")
attest other --use --key-dir "$K" --out "$D/ecc.pem" --twin other-1
refused "mtls-1's certificate on other-1's twin: 403" 403 twin-device-forbidden
expect_eq "  (other-1's twin unchanged)" "$BEFORE" "$(psql_q "SELECT etag || version FROM twins WHERE device_id = 'other-1'")"

# --- RSA-2048 key (RSA-PSS in TLS 1.3) ----------------------------------------
attest rsa --id mtls-1 --key-rsa --key-dir "$D/rsa" --ak-chain-in "$D/ak.pem" --out "$D/rsa.pem" --twin mtls-1
ok_twin "an RSA TPM key: device-attest-01 and the twin over mTLS (RSA-PSS, TLS 1.3)"
[[ $(jq -r .ok <<<"$OUT") == true ]] || cat "$D/rsa.err" >&2
attest rsa-reuse --use --key-dir "$D/rsa" --out "$D/rsa.pem" --twin mtls-1
ok_twin "and from a new process"
attest rsa-tls12 --use --tls12 --key-dir "$D/rsa" --out "$D/rsa.pem" --twin mtls-1
ok_twin "and over TLS 1.2"
attest mixed --use --key-dir "$D/rsa" --out "$D/ecc.pem" --twin mtls-1
expect_eq "the ECC certificate with the RSA key's files: OpenSSL refuses the pair, no request" "false tls-key 0" \
	"$(jq -r '[.ok, .step, .status] | join(" ")' <<<"$OUT")"
expect "  (the error says the certificate is not the key's)" grep -q "not the key's" "$D/mixed.err"

# --- renewal (RFC 9773): replaces, the same account, the AK chain kept -----------
attest renew --id mtls-1 --renew "$D/ecc.pem" --account-key "$D/account.pem" --ak-chain-in "$D/ak.pem" \
	--key-dir "$D/ecc2" --out "$D/ecc2.pem" --twin mtls-1
ok_twin "a renewal replacing the first certificate, then the twin with the new key"
[[ $(jq -r .ok <<<"$OUT") == true ]] || cat "$D/renew.err" >&2
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | awk '{printf "%32s", tolower($0)}' | tr ' ' 0; }
expect_eq "the order recorded the serial it replaces" 1 \
	"$(psql_q "SELECT count(*) FROM acme_orders WHERE replaces = '$(serial "$D/ecc.pem")'")"
NB=$(date -d "$(openssl x509 -in "$D/ecc2.pem" -noout -startdate | cut -d= -f2)" +%s)
NA=$(date -d "$(openssl x509 -in "$D/ecc2.pem" -noout -enddate | cut -d= -f2)" +%s)
START=$(jq -r .window.start <<<"$OUT")
expect "the new certificate's renewal window starts about two thirds into its life" \
	python3 -c "import sys; f = ($START - $NB) / ($NA - $NB); sys.exit(0 if 0.6 < f < 0.72 else 1)"
attest renew-again --id mtls-1 --renew "$D/ecc.pem" --account-key "$D/account.pem" --ak-chain-in "$D/ak.pem" \
	--key-dir "$D/ecc3" --out "$D/ecc3.pem"
expect_eq "the same certificate replaced twice: alreadyReplaced" "false order 409 alreadyReplaced" \
	"$(jq -r '[.ok, .step, .status, (.problem.type // "" | sub(".*:"; ""))] | join(" ")' <<<"$OUT")"
attest renew-other-account --id mtls-1 --renew "$D/ecc2.pem" --ak-chain-in "$D/ak.pem" --key-dir "$D/ecc3" --out "$D/ecc3.pem"
expect_eq "a renewal from another account: unauthorized" "false order 403 unauthorized" \
	"$(jq -r '[.ok, .step, .status, (.problem.type // "" | sub(".*:"; ""))] | join(" ")' <<<"$OUT")"

# --- revocation ---------------------------------------------------------------------
SERIAL=$(serial "$D/ecc2.pem")
http POST "/pki/certificates/$SERIAL/revoke" "${W[@]}" "${JSON[@]}" -d '{"reason":"keyCompromise"}'
expect_eq "an operator revokes the renewed certificate" 204 "$STATUS"
attest revoked --use --key-dir "$D/ecc2" --out "$D/ecc2.pem" --twin mtls-1
refused "the revoked certificate: 401" 401 twin-device-unauthorized
attest rsa-still --use --key-dir "$D/rsa" --out "$D/rsa.pem" --twin mtls-1
ok_twin "the RSA certificate still works"

expect_eq "orchard-attest: no sanitizer report in any run" "" "$(grep -l Sanitizer "$D"/*.err 2>/dev/null)"
orchardd_stop
expect_eq "orchardd exits cleanly (no sanitizer report)" 0 $?
tap_done
