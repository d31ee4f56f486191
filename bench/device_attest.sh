#!/bin/bash
# device-attest-01 issuances per second end to end (challenge answered with
# an attObj, authorization polled valid, finalize, download) with
# build/bench/device_attest_load: the TPM's part (TPM2_Certify per order,
# one key, one CSR) is made before the clock starts, so swtpm's speed is not
# what is measured. orchardd on the test PostgreSQL; one swtpm, one enrolled
# device, its AK certificate from a first orchard-attest run (itself a
# check that the flow works); then again with the quote gate on. Knobs: DA_BENCH_FLOWS (400), DA_BENCH_ACCOUNTS
# (32), DA_BENCH_THREADS (16), DA_BENCH_POLL_MS (5). Each run also prints
# orchardd's and PostgreSQL's CPU ms and PostgreSQL transactions per issuance
# (/proc, pg_stat_database), which do not move with the machine's load as
# rates do.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/swtpm.sh
trap 'swtpm_cleanup; fixture_cleanup' EXIT
make -s "$BUILD/bench/device_attest_load" "$BUILD/orchard-attest" "$BUILD/orchardd" || exit 1
pg_start >/dev/null || exit 1
orchardd_start --acme-orders-per-hour 0 --acme-pending-authz-max 0 || exit 1
swtpm_start "$TMP/tpm" >/dev/null || exit 1
tpm2_readpublic -c 0x81010001 -o "$TMP/ek.pub" >/dev/null
http PUT "/enrollments/bench-1?$AV" -H "Authorization: Bearer $(token enrollments:write)" "${JSON[@]}" \
	-d '{"registrationId":"bench-1","attestation":{"type":"tpm","tpm":{"endorsementKey":"'"$(base64 -w0 "$TMP/ek.pub")"'"}}}'
[[ $STATUS == 200 ]] || { echo "device_attest.sh: enrollment: $STATUS $BODY"; exit 1; }
out=$("$BUILD/orchard-attest" --server "$URL" --cacert "$TMP/var/pki/root.pem" --id bench-1 \
	--out "$TMP/first.pem" --ak-chain-out "$TMP/ak.pem" | tail -1)
[[ $(jq -r .ok <<<"$out") == true ]] || { echo "device_attest.sh: first issuance failed: $out"; exit 1; }
cpu_s() { cat $(printf '/proc/%s/stat ' "$@") 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{t += $14 + $15} END {printf "%.3f", t / hz}'; }
pg_pids() { local pm; pm=$(head -1 "$PGDIR/pg/postmaster.pid"); echo "$pm" $(pgrep -P "$pm"); }
pg_xacts() { pg_admin "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'orchard'"; }
mark() { x0=$(pg_xacts) o0=$(cpu_s "$OPID") p0=$(cpu_s $(pg_pids)); }
per_issuance() { # the load's output: its line with the cost per issuance appended
	local n x1 o1 p1
	n=$(tr ' ' '\n' <<<"$1" | awk -F= '$1 == "ok" {print $2; exit}')
	x1=$(pg_xacts) o1=$(cpu_s "$OPID") p1=$(cpu_s $(pg_pids))
	awk -v n="${n:-0}" -v x="$((x1 - x0))" -v o="$o0 $o1" -v p="$p0 $p1" -v l="$1" 'BEGIN { split(o, a, " "); split(p, b, " ");
		printf "%s", l; if (n > 0) printf " | per issuance: %.1f PG xacts, %.2f ms orchardd CPU, %.2f ms PG CPU", x / n, (a[2] - a[1]) * 1000 / n, (b[2] - b[1]) * 1000 / n }'
}
mark
res=$("$BUILD/bench/device_attest_load" --server "$URL" --cacert "$TMP/var/pki/root.pem" --id bench-1 \
	--ak-chain "$TMP/ak.pem" --flows "${DA_BENCH_FLOWS:-400}" --accounts "${DA_BENCH_ACCOUNTS:-32}" \
	--threads "${DA_BENCH_THREADS:-16}" --poll-ms "${DA_BENCH_POLL_MS:-5}")
rc=$?
res=$(per_issuance "$res")
# The same with the quote gate on: a policy on PCRs 0 and 7 of bench-1.
pcr() { tpm2_pcrread "sha256:$1" 2>/dev/null | sed -n "s/^ *$1 *: *0x//p" | tr 'A-F' 'a-f'; }
http PUT /attestation/policies/individual/bench-1 -H "Authorization: Bearer $(token enrollments:write)" "${JSON[@]}" \
	-d '{"pcrs":{"sha256":{"0":["'"$(pcr 0)"'"],"7":["'"$(pcr 7)"'"]}}}'
[[ $STATUS == 200 ]] || { echo "device_attest.sh: policy: $STATUS $BODY"; exit 1; }
mark
gated=$("$BUILD/bench/device_attest_load" --server "$URL" --cacert "$TMP/var/pki/root.pem" --id bench-1 \
	--ak-chain "$TMP/ak.pem" --flows "${DA_BENCH_FLOWS:-400}" --accounts "${DA_BENCH_ACCOUNTS:-32}" \
	--threads "${DA_BENCH_THREADS:-16}" --poll-ms "${DA_BENCH_POLL_MS:-5}" --quote-mask 129)
rc2=$?
gated=$(per_issuance "$gated")
# And with event-log rules: a measured boot in PCRs 7 and 8, its TCG log sent
# with each quote and replayed (tests/integration/device_attest/mklog.py).
tests/integration/device_attest/mklog.py "$TMP/boot.log" 7:sb:1 8:ipl:grub 8:ipl:vmlinuz >"$TMP/boot.digests"
while read -r p d; do tpm2_pcrextend "$p:sha256=$d" >/dev/null; done <"$TMP/boot.digests"
http PUT /attestation/policies/individual/bench-1 -H "Authorization: Bearer $(token enrollments:write)" "${JSON[@]}" \
	-d '{"secureBoot":true,"requiredEvents":{"sha256":{"8":["'"$(tail -1 "$TMP/boot.digests" | cut -d' ' -f2)"'"]}}}'
[[ $STATUS == 200 ]] || { echo "device_attest.sh: event-log policy: $STATUS $BODY"; exit 1; }
mark
logged=$("$BUILD/bench/device_attest_load" --server "$URL" --cacert "$TMP/var/pki/root.pem" --id bench-1 \
	--ak-chain "$TMP/ak.pem" --flows "${DA_BENCH_FLOWS:-400}" --accounts "${DA_BENCH_ACCOUNTS:-32}" \
	--threads "${DA_BENCH_THREADS:-16}" --poll-ms "${DA_BENCH_POLL_MS:-5}" --quote-mask 384 \
	--event-log "$TMP/boot.log")
rc3=$?
logged=$(per_issuance "$logged")
printf '%-52s %s\n' "device-attest-01 issuances (pre-made TPM evidence)" "$res" \
	"the same, quote gate on (PCRs 0, 7)" "$gated" \
	"the same, event-log rules (log replayed, PCRs 7, 8)" "$logged" "target" "rate >= 200/s"
((rc == 0 && rc2 == 0 && rc3 == 0))
