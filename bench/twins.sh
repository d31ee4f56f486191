#!/bin/bash
# Device twins at 10,000 twins: desired PATCH/s and twin GET/s (wrk, 64
# keep-alive TLS connections, a random twin per request) beside pgbench's
# single-row UPDATE rate on the same durable PostgreSQL (fsync and
# synchronous_commit on: the ceiling for a write); then devices waiting on
# their desired properties (1,000 and 10,000 long polls on instance A, each
# under its own device SAS): memory per waiting device and the latency from
# a desired PATCH on instance B to the device's answer. Targets: PATCH >= 50% of the ceiling, GET >= 10,000/s, p99 <
# 200 ms, < 20 KB per waiting device.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
OPID2=
trap 'kill $OPID2 2>/dev/null; fixture_cleanup' EXIT
SECONDS_EACH=${BENCH_SECONDS:-10}
TWINS=${BENCH_TWINS:-10000}
WAITERS=${BENCH_TWIN_WAITERS:-1000,10000}
SAMPLE=${BENCH_TWIN_SAMPLE:-200}
ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. bench/lib/twin_fixture.sh

# --- round trips to PostgreSQL per desired PATCH: statements logged over 50 ----
pg_admin "ALTER SYSTEM SET log_statement = 'all'" && pg_admin "SELECT pg_reload_conf()" >/dev/null
patch_one() {
	"${CURL[@]}" -o /dev/null -X PATCH -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		-d '{"properties":{"desired":{"trip":'"$1"'}}}' "$URL/twins/bench-$1"
}
patch_one 0 # every pooled connection has seen the reload before the count
n0=$(grep -cE 'LOG:  (statement|execute)' "$PGDIR/pg.log")
for i in $(seq 1 50); do patch_one "$i"; done
n1=$(grep -cE 'LOG:  (statement|execute)' "$PGDIR/pg.log")
pg_admin "ALTER SYSTEM RESET log_statement" && pg_admin "SELECT pg_reload_conf()" >/dev/null
trips=$(awk -v a="$n0" -v b="$n1" 'BEGIN { printf "%.1f", (b - a) / 50 }')

# --- devices waiting: memory and change -> device latency ------------------------
idle_kb=$(awk '/VmRSS/ {print $2}' /proc/$OPID/status)
python3 bench/twin_waiters.py "$URL" "$URL2" "$OPID" "$TOKEN" "$TMP/var/pki/root.pem" "$GK" \
	"$WAITERS" "$SAMPLE" >"$TMP/waiters" || { cat "$TMP/waiters"; exit 1; }

# --- throughput -------------------------------------------------------------------
# The devices hung up, but a suspended connection keeps its slot until its
# wait ends (60 s): until then a PATCH of its twin wakes it into a read and a
# reply to nobody, which would be counted against the PATCH. Wait them out.
for _ in $(seq 1 150); do
	[[ "$(curl -s --cacert "$TMP/var/pki/root.pem" "$URL/metrics" | awk '/^orchard_requests_waiting /{print $2}')" == 0 ]] && break
	sleep 0.5
done
cat >"$TMP/twins.lua" <<LUA
local seq = 0
function setup(thread) seq = seq + 1; thread:set("seed", seq) end
function init(args) math.randomseed(seed * 7919); n = 0; method = args[1] end
local headers = {["Authorization"] = "Bearer $TOKEN", ["Content-Type"] = "application/json"}
function request()
	n = n + 1
	local path = "/twins/bench-" .. math.random(0, $TWINS - 1)
	if method == "PATCH" then
		return wrk.format("PATCH", path, headers, '{"properties":{"desired":{"w":' .. n .. '}}}')
	end
	return wrk.format("GET", path, headers)
end
LUA
# CPU time (clock ticks) of orchardd A and of every PostgreSQL process: what
# an operation costs each, comparable across runs on a shared machine.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { # the postmaster's reaped children (backends that ended) and the live ones
	local pm t p
	pm=$(head -1 "$PGDIR/pg/postmaster.pid")
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
	for p in $(pgrep -P "$pm"); do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}
per_op() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.3f", 1000 * t / hz / n; else print "n/a" }'; }
# The twin batch's counters on A (server/twin_batch.c): batches, reads, changes, commits
batch_counts() {
	curl -s --cacert "$TMP/var/pki/root.pem" "$URL/metrics" | awk '
		$1 == "orchard_twin_batches_total" {b = $2}
		$1 == "orchard_twin_batch_jobs_total{kind=\"read\"}" {r = $2}
		$1 == "orchard_twin_batch_jobs_total{kind=\"change\"}" {c = $2}
		$1 == "orchard_twin_batch_commits_total" {m = $2}
		END {print b + 0, r + 0, c + 0, m + 0}'
}
per_batch() { # COUNTS-BEFORE COUNTS-AFTER -> "reads-a-batch changes-a-commit"
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x); split(b, y); nb = y[1] - x[1]; nm = y[4] - x[4]
		printf "%.1f %.1f", (nb > 0 ? (y[2] - x[2]) / nb : 0), (nm > 0 ? (y[3] - x[3]) / nm : 0) }'
}
wrk_run() { # METHOD -> "rate p99 non2xx orchardd-ms/op postgres-ms/op reads/batch changes/commit"
	local out o0 g0 n b0
	b0=$(batch_counts)
	o0=$(cpu_ticks "$OPID") g0=$(pg_ticks)
	out=$(wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency -s "$TMP/twins.lua" "$URL" -- "$1" 2>&1)
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out") $(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)" \
		"$(per_op $(($(cpu_ticks "$OPID") - o0)) "$n") $(per_op $(($(pg_ticks) - g0)) "$n")" \
		"$(per_batch "$b0" "$(batch_counts)")"
}
read -r patch_rate patch_p99 patch_bad patch_ocpu patch_pcpu _ patch_batch < <(wrk_run PATCH)
read -r get_rate get_p99 get_bad get_ocpu get_pcpu get_batch _ < <(wrk_run GET)
busy_kb=$(awk '/VmRSS/ {print $2}' /proc/$OPID/status)
history_rows=$(psql_q "SELECT count(*) FROM twin_history")

# --- the ceiling: pgbench single-row UPDATE on the same PostgreSQL ------------------
pg_admin "CREATE DATABASE pgbench OWNER orchard"
pgbench -h "$PGDIR/run" -U orchard -i -s 1 -q pgbench >/dev/null 2>&1
printf '\\set aid random(1, 100000)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n' >"$TMP/update.sql"
POOL=$((4 * $(nproc))) # orchardd's default pool: one connection per worker thread
pg_upd() { # CLIENTS THREADS -> "tps postgres-ms/op"
	local g0 out
	g0=$(pg_ticks)
	out=$(pgbench -h "$PGDIR/run" -U orchard -n -M prepared -f "$TMP/update.sql" -c "$1" -j "$2" \
		-T "$SECONDS_EACH" pgbench 2>/dev/null)
	echo "$(awk '/^tps/ {print $3; exit}' <<<"$out") $(per_op $(($(pg_ticks) - g0)) "$(awk '/transactions actually processed/ {print $NF}' <<<"$out")")"
}
read -r pg1 _ < <(pg_upd 1 1)
read -r pgn pgn_pcpu < <(pg_upd "$POOL" 2)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
echo "PostgreSQL fsync/synchronous_commit: $(pg_admin "SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')")"
printf '%-52s %10s %10s %8s\n' "what ($TWINS twins)" "req/s" "p99" "ratio"
printf '%-52s %10.0f\n' "pgbench single-row UPDATE, 1 client" "$pg1"
printf '%-52s %10.0f\n' "pgbench single-row UPDATE, $POOL clients (ceiling)" "$pgn"
printf '%-52s %10.0f %10s %8s  (target >= 50%% of the ceiling)\n' \
	"PATCH /twins/{id} desired (batched: read, merge, write)" "$patch_rate" "$patch_p99" "$(ratio "$patch_rate" "$pgn")"
printf '%-52s %10.0f %10s %8s\n' "GET /twins/{id}" "$get_rate" "$get_p99" "(target >= 10,000/s)"
[[ "$patch_bad$get_bad" != 00 ]] && echo "warning: non-2xx responses: PATCH $patch_bad, GET $get_bad"
printf 'CPU a request: PATCH orchardd %s ms + PostgreSQL %s ms; GET orchardd %s ms + PostgreSQL %s ms; pgbench UPDATE PostgreSQL %s ms\n' \
	"$patch_ocpu" "$patch_pcpu" "$get_ocpu" "$get_pcpu" "$pgn_pcpu"
echo "history rows written: $history_rows; statements per desired PATCH: $trips (one at a time)"
echo "twin batch under wrk's 64 connections: $patch_batch changes a commit (PATCH), $get_batch reads a batch (GET)"
while read -r line; do
	eval "$(tr ' ' '\n' <<<"$line" | sed 's/^/w_/')"
	printf 'devices waiting %6d (suspended %d, opened in %s s): %6.0f bytes each (target < 20 KB);' \
		"$w_waiters" "$w_suspended" "$w_open_s" "$w_bytes_per_waiter"
	printf ' desired PATCH on B -> device on A: p50 %s ms, p99 %s ms (target < 200), %d samples, %d failed\n' \
		"$w_p50_ms" "$w_p99_ms" "$w_samples" "$w_bad"
	((w_suspended < w_waiters)) && echo "warning: only $w_suspended of $w_waiters suspended when the memory was read"
done <"$TMP/waiters"
printf 'orchardd resident memory: %d KiB idle with %d twins, %d KiB after the load\n' "$idle_kb" "$TWINS" "$busy_kb"
