#!/bin/bash
# device-attest-01 issuances per second end to end (challenge answered with
# an attObj, authorization polled valid, finalize, download) with
# build/bench/device_attest_load: the TPM's part (TPM2_Certify per order,
# one key, one CSR) is made before the clock starts, so swtpm's speed is not
# what is measured. orchardd on the test PostgreSQL; one swtpm, one enrolled
# device, its AK certificate from a first orchard-attest run (itself a
# check that the flow works); then again with the quote gate on, then with
# event-log rules. Knobs: DA_BENCH_FLOWS (1000), DA_BENCH_ACCOUNTS (64),
# DA_BENCH_THREADS (64: a fleet renewing at once is many devices at once),
# DA_BENCH_POLL_MS (5), DA_BENCH_RUNS ("plain gate log", any of them),
# DA_BENCH_LOAD (another device_attest_load binary, or a wrapper, for A/B runs),
# DA_BENCH_PGSS=1 (print the statements per issuance of each run from
# pg_stat_statements), DA_BENCH_PERF=DIR (perf record -g of orchardd during
# each timed part: DIR/orchardd.RUN.perf). Each run also prints orchardd's and PostgreSQL's CPU
# ms and PostgreSQL transactions per issuance of its timed part alone
# (/proc, pg_stat_database; the load waits on --sync while they are read),
# which do not move with the machine's load as rates do.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
. tests/lib/dps.sh
. tests/lib/swtpm.sh
trap 'swtpm_cleanup; fixture_cleanup' EXIT
make -s "$BUILD/bench/device_attest_load" "$BUILD/orchard-attest" "$BUILD/orchardd" || exit 1
# A durable cluster, as bench/acme.sh's (fsync, synchronous_commit and
# full_page_writes on).
pg_start --durable >/dev/null 2>&1 || exit 1
if [[ -n "${DA_BENCH_PGSS:-}" ]]; then
	echo "shared_preload_libraries = 'pg_stat_statements'" >>"$TMP/db/pg/postgresql.conf"
	pg_stop && "$ROOT/scripts/pg-cluster" start "$TMP/db" >/dev/null 2>&1 || exit 1
	pg_admin "CREATE EXTENSION pg_stat_statements" || exit 1
fi
durable=$(pg_admin "SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')")
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
mark() {
	[[ -n "${DA_BENCH_PGSS:-}" ]] && pg_admin "SELECT pg_stat_statements_reset()" >/dev/null
	x0=$(pg_xacts) o0=$(cpu_s "$OPID") p0=$(cpu_s $(pg_pids))
	if [[ -n "${DA_BENCH_PERF:-}" ]]; then
		perf record -q -e cpu-clock -g -o "$DA_BENCH_PERF/orchardd.$1.perf" -p "$OPID" >/dev/null 2>&1 &
		PERF=$!
	fi
}
per_issuance() { # the load's output: its line with the cost per issuance appended
	local n x1 o1 p1
	n=$(tr ' ' '\n' <<<"$1" | awk -F= '$1 == "ok" {print $2; exit}')
	x1=$(pg_xacts) o1=$(cpu_s "$OPID") p1=$(cpu_s $(pg_pids))
	[[ -n "${PERF:-}" ]] && { kill -INT "$PERF"; wait "$PERF"; PERF=; }
	awk -v n="${n:-0}" -v x="$((x1 - x0))" -v o="$o0 $o1" -v p="$p0 $p1" -v l="$1" 'BEGIN { split(o, a, " "); split(p, b, " ");
		printf "%s", l; if (n > 0) printf " | per issuance: %.1f PG xacts, %.2f ms orchardd CPU, %.2f ms PG CPU", x / n, (a[2] - a[1]) * 1000 / n, (b[2] - b[1]) * 1000 / n }'
	[[ -n "${DA_BENCH_PGSS:-}" && -n "$n" ]] && pg_admin "SELECT round(calls::numeric / $n, 2) AS per_issuance,
		round(total_exec_time::numeric / $n, 3) AS ms, left(regexp_replace(query, '\s+', ' ', 'g'), 100)
		FROM pg_stat_statements WHERE calls > 0 ORDER BY calls DESC LIMIT 20" >&2
}
# One run of the load (its name, then its extra options): everything untimed
# first, then mark, then the timed part, then its line with the cost of the
# timed part per issuance. Sets RES and RC.
run_load() {
	local line
	coproc LOAD { "${DA_BENCH_LOAD:-$BUILD/bench/device_attest_load}" --server "$URL" --cacert "$TMP/var/pki/root.pem" \
		--id bench-1 --ak-chain "$TMP/ak.pem" --flows "${DA_BENCH_FLOWS:-1000}" \
		--accounts "${DA_BENCH_ACCOUNTS:-64}" --threads "${DA_BENCH_THREADS:-64}" \
		--poll-ms "${DA_BENCH_POLL_MS:-5}" --sync "${@:2}"; }
	local pid=$LOAD_PID out=${LOAD[0]} in=${LOAD[1]}
	RES="" RC=1
	if read -r line <&"$out" && [[ $line == ready ]]; then
		mark "$1"
		echo go >&"$in"
		read -r line <&"$out"
		RES=$(per_issuance "$line")
	fi
	wait "$pid"
	RC=$?
}
runs=" ${DA_BENCH_RUNS:-plain gate log} "
res="" gated="" logged="" rc=0 rc2=0 rc3=0
if [[ $runs == *" plain "* ]]; then
	run_load plain
	res=$RES rc=$RC
fi
# The same with the quote gate on: a policy on PCRs 0 and 7 of bench-1.
pcr() { tpm2_pcrread "sha256:$1" 2>/dev/null | sed -n "s/^ *$1 *: *0x//p" | tr 'A-F' 'a-f'; }
http PUT /attestation/policies/individual/bench-1 -H "Authorization: Bearer $(token enrollments:write)" "${JSON[@]}" \
	-d '{"pcrs":{"sha256":{"0":["'"$(pcr 0)"'"],"7":["'"$(pcr 7)"'"]}}}'
[[ $STATUS == 200 ]] || { echo "device_attest.sh: policy: $STATUS $BODY"; exit 1; }
if [[ $runs == *" gate "* ]]; then
	run_load gate --quote-mask 129
	gated=$RES rc2=$RC
fi
# And with event-log rules: a measured boot in PCRs 7 and 8, its TCG log sent
# with each quote and replayed (tests/integration/device_attest/mklog.py).
tests/integration/device_attest/mklog.py "$TMP/boot.log" 7:sb:1 8:ipl:grub 8:ipl:vmlinuz >"$TMP/boot.digests"
while read -r p d; do tpm2_pcrextend "$p:sha256=$d" >/dev/null; done <"$TMP/boot.digests"
http PUT /attestation/policies/individual/bench-1 -H "Authorization: Bearer $(token enrollments:write)" "${JSON[@]}" \
	-d '{"secureBoot":true,"requiredEvents":{"sha256":{"8":["'"$(tail -1 "$TMP/boot.digests" | cut -d' ' -f2)"'"]}}}'
[[ $STATUS == 200 ]] || { echo "device_attest.sh: event-log policy: $STATUS $BODY"; exit 1; }
if [[ $runs == *" log "* ]]; then
	run_load log --quote-mask 384 --event-log "$TMP/boot.log"
	logged=$RES rc3=$RC
fi
printf '%-52s %s\n' "device-attest-01 issuances (pre-made TPM evidence)" "$res" \
	"the same, quote gate on (PCRs 0, 7)" "$gated" \
	"the same, event-log rules (log replayed, PCRs 7, 8)" "$logged" \
	"PostgreSQL fsync/synchronous_commit" "$durable" "target" "rate >= 200/s"
((rc == 0 && rc2 == 0 && rc3 == 0))
