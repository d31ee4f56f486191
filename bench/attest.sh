#!/bin/bash
# AK certificates per second end to end over HTTPS (challenge, software
# ActivateCredential, activate; bench/attest_ak.py holds the EK and AKs, so
# the TPM's slowness is not measured), beside pki_issue_ak() alone on one
# core as the ceiling of the signing part.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
SECS=${BENCH_SECONDS:-5}
THREADS=${BENCH_THREADS:-8}

make -s "$BUILD/orchardd" "$BUILD/pki-bench" || exit 1
pg_start >/dev/null || exit 1
orchardd_start || exit 1
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/ek.pem" 2>/dev/null || exit 1
EK=$(python3 bench/attest_ak.py --ek-public "$TMP/ek.pem") || exit 1
"${CURL[@]}" -o /dev/null -X PUT -H "Authorization: Bearer $(token enrollments:write)" \
	-H "Content-Type: application/json" "$URL/enrollments/bench-device?api-version=2021-10-01" \
	-d '{"registrationId":"bench-device","attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$EK"'"}}}' || exit 1
read -r rate ch ac < <(python3 bench/attest_ak.py "$URL" "$TMP/var/pki/root.pem" "$TMP/ek.pem" "$SECS" "$THREADS") || exit 1
[[ -n "${rate:-}" ]] || exit 1
ceiling=$("$BUILD/pki-bench" "$TMP/ca" "$SECS" ak) || exit 1
printf 'AK certificates end to end (%s clients): %6s /s  (challenge %s ms, activate %s ms average)\n' \
	"$THREADS" "$rate" "$ch" "$ac"
printf 'pki_issue_ak alone, 1 core:             %6s /s\n' "$ceiling"
