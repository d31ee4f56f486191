#!/bin/bash
# The quote gate's event-log rules, end to end with swtpm and
# build/orchard-attest: the test measures "boot" events into PCRs 7 and 8
# (tpm2_pcrextend) and writes the matching TCG crypto-agile log
# (device_attest/mklog.py); the client sends it as orchardQuote.eventLog.
# The gate replays it against the quoted PCRs and applies the enrollment's
# rules (allowed, required and forbidden event digests, secure boot). A log
# that does not replay, a missing log, a forbidden or missing event, secure
# boot off: the challenge fails with a reason, the verdict is recorded and
# nothing is issued.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/swtpm.sh
cleanup() { swtpm_cleanup; fixture_cleanup; }
trap cleanup EXIT
ATTEST=$ROOT/$BUILD/orchard-attest
MKLOG=$ROOT/tests/integration/device_attest/mklog.py
issued() { psql_q "SELECT count(*) FROM certificates WHERE profile = 'device-client'"; }
verdict() { psql_q "SELECT concat_ws(' ', attestation_verdict->>'passed', attestation_verdict->'failures'->0->>'code') FROM acme_authzs WHERE attestation_verdict IS NOT NULL ORDER BY updated_at DESC LIMIT 1"; }

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
W=(-H "Authorization: Bearer $(token enrollments:write enrollments:read)")
D=$TMP/dev
mkdir -p "$D"
swtpm_start "$TMP/tpm1" >/dev/null || { tap_nok "swtpm starts"; tap_done; exit 1; }
swtpm_t tpm2_readpublic -c 0x81010001 -o "$D/ek.pub"
http PUT "/enrollments/device-1?$AV" "${W[@]}" "${JSON[@]}" -d '{"registrationId":"device-1",
	"attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(base64 -w0 <"$D/ek.pub")"'"}}}'
expect_eq "an individual enrollment pins the RSA EK" 200 "$STATUS"

attest() {
	local name=$1
	shift
	OUT=$("$ATTEST" --server "$URL" --cacert "$TMP/var/pki/root.pem" --out "$D/$name.pem" --id device-1 "$@" 2>"$D/$name.err" | tail -1)
}
good() {
	local name=$1 before
	shift
	before=$(issued)
	attest "$name" "$@"
	expect_eq "$name: issued" "true $((before + 1))" "$(jq -r .ok <<<"$OUT") $(issued)"
}
# bad NAME CODE GREP ARGS...: the challenge fails, the detail says GREP, the
# verdict's first failure is CODE, nothing issued
bad() {
	local name=$1 code=$2 says=$3 before
	shift 3
	before=$(issued)
	attest "$name" "$@"
	expect_eq "$name: refused at the challenge (badAttestationStatement)" \
		"false challenge urn:ietf:params:acme:error:badAttestationStatement" \
		"$(jq -r '[.ok, .step, .problem.type] | join(" ")' <<<"$OUT")"
	expect "  (the detail says \"$says\")" grep -q -- "$says" <<<"$(jq -r .problem.detail <<<"$OUT")"
	[[ -z $code ]] || expect_eq "  (the verdict is recorded: $code)" "false $code" "$(verdict)"
	expect_eq "  (nothing issued)" "$before" "$(issued)"
}
policy() {
	http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d "$1"
	[[ $STATUS == 200 ]] || tap_nok "policy $1 set" "$STATUS $BODY"
}
extend() { # "PCR DIGEST" lines from mklog.py
	local pcr dig
	while read -r pcr dig; do swtpm_t tpm2_pcrextend "$pcr:sha256=$dig"; done
}

# --- a measured boot: secure boot on, a boot loader and a kernel --------------------
BOOT=(7:sb:1 8:ipl:grub 8:ipl:vmlinuz-6.1)
"$MKLOG" "$D/boot.log" "${BOOT[@]}" >"$D/boot.digests"
extend <"$D/boot.digests"
GRUB=$(sed -n 2p "$D/boot.digests" | cut -d' ' -f2)
KERNEL=$(sed -n 3p "$D/boot.digests" | cut -d' ' -f2)
EVIL=$(printf 'rootkit' | sha256sum | cut -c1-64)
"$MKLOG" "$D/lie.log" --lie 3 "${BOOT[@]}" >/dev/null
printf 'not an event log' >"$D/garbage.log"

RULES='{"requiredEvents":{"sha256":{"8":["'$KERNEL'"]}},"forbiddenEvents":{"sha256":{"8":["'$EVIL'"]}},"secureBoot":true}'
http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d "$RULES"
expect_eq "an operator sets event-log rules (required, forbidden, secure boot)" "200 true" "$STATUS $(jq -r .secureBoot <<<"$BODY")"
http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d '{"secureBoot":"yes"}'
expect_problem "secureBoot that is not a boolean: 400" 400 attestation-malformed
http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d '{"forbiddenEvents":{"sha256":{"8":["abcd"]}}}'
expect_problem "a forbidden digest of the wrong size: 400" 400 attestation-malformed
http PUT /attestation/policies/individual/device-1 "${W[@]}" "${JSON[@]}" -d '{"requiredEvents":{"sha257":{"8":["'$KERNEL'"]}}}'
expect_problem "an unknown bank: 400" 400 attestation-malformed
http GET /attestation/policies/individual/device-1 "${W[@]}"
expect_eq "the refused policies changed nothing" "$KERNEL" "$(jq -r '.requiredEvents.sha256["8"][0]' <<<"$BODY")"

good log-satisfies-rules --quote 7,8 --event-log "$D/boot.log"
expect_eq "the passing verdict is recorded" "true" "$(verdict)"
bad no-log eventlog-required "no event log" --quote 7,8
bad log-does-not-replay eventlog-mismatch "does not replay to quoted sha256 PCR 8" --quote 7,8 --event-log "$D/lie.log"
bad log-garbage eventlog-truncated "event log is refused" --quote 7,8 --event-log "$D/garbage.log"
bad pcr8-not-quoted pcr-not-quoted "does not cover" --quote 7 --event-log "$D/boot.log"

policy '{"events":{"sha256":{"8":["'$GRUB'"]}}}'
bad kernel-not-allow-listed event-not-allowed "not allowed" --quote 7,8 --event-log "$D/boot.log"
policy '{"requiredEvents":{"sha256":{"8":["'$EVIL'"]}}}'
bad required-event-missing event-missing "required digest" --quote 7,8 --event-log "$D/boot.log"
policy '{"events":{"sha256":{"8":["'$GRUB'","'$KERNEL'"]}},"pcrs":{"sha256":{"7":["'"$(tpm2_pcrread sha256:7 | sed -n 's/^ *7 *: *0x//p' | tr A-F a-f)"'"]}}}'
good allow-list-and-pcr7 --quote 7,8 --event-log "$D/boot.log"

# --- the device loads something forbidden --------------------------------------
policy "$RULES"
"$MKLOG" "$D/evil.log" "${BOOT[@]}" 8:ipl:rootkit >"$D/evil.digests"
tail -1 "$D/evil.digests" | extend
bad forbidden-event event-forbidden "forbidden digest" --quote 7,8 --event-log "$D/evil.log"
bad old-log-after-drift eventlog-mismatch "does not replay" --quote 7,8 --event-log "$D/boot.log"

# --- secure boot turned off ---------------------------------------------------
policy '{"secureBoot":true}'
good secure-boot-on --quote 7,8 --event-log "$D/evil.log"

# --- a log the size of a real boot's (90 KiB) passes; one too large is a 413 --------
"$MKLOG" "$D/big.log" "${BOOT[@]}" 8:ipl:rootkit 9:blob:92160 >"$D/big.digests"
tail -1 "$D/big.digests" | extend
good big-log --quote 7,8,9 --event-log "$D/big.log"
"$MKLOG" "$D/huge.log" "${BOOT[@]}" 8:ipl:rootkit 9:blob:92160 10:blob:200000 >/dev/null
before=$(issued)
attest huge-log --quote 7,8,9,10 --event-log "$D/huge.log"
# orchardd answers 413 before the body is read; a client still sending may
# see the connection close first (status 0): refused either way.
expect_eq "a 200 KB log: the challenge answer is refused (413), nothing issued" "false challenge 413 $before" \
	"$(jq -r '[.ok, .step, (if .status == 0 then 413 else .status end)] | join(" ")' <<<"$OUT") $(issued)"

"$MKLOG" "$D/sboff.log" "${BOOT[@]}" 8:ipl:rootkit 7:sb:0 >"$D/sboff.digests"
tail -1 "$D/sboff.digests" | extend
bad secure-boot-off secureboot-off "SecureBoot disabled" --quote 7,8 --event-log "$D/sboff.log"
"$MKLOG" "$D/sblie.log" "${BOOT[@]}" 8:ipl:rootkit 7:sblie:1 >/dev/null
bad secure-boot-data-lies secureboot-off "does not hash to its digest" --quote 7,8 --event-log "$D/sblie.log"
"$MKLOG" "$D/nosb.log" 8:ipl:grub >/dev/null
bad no-secure-boot-event eventlog-mismatch "does not replay" --quote 7,8 --event-log "$D/nosb.log"

expect_eq "orchard-attest: no sanitizer report in any run" "" "$(grep -l Sanitizer "$D"/*.err 2>/dev/null)"
orchardd_stop
expect_eq "orchardd exits cleanly (no sanitizer report)" 0 $?
tap_done
