#!/bin/bash
# orchardd's HTTP benchmarks, each beside its ceiling measured in the same
# run: /healthz against a bare libmicrohttpd TLS server; an authenticated
# one-row read against the combined ceiling 1/(1/bare + 1/pgbench -S) with
# pgbench at orchardd's pool size; refused tokens (forged and junk) beside
# /healthz. wrk, 64 keep-alive connections over TLS. Also idle memory.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
trap 'kill $BARE 2>/dev/null; fixture_cleanup' EXIT
SECONDS_EACH=${BENCH_SECONDS:-10}
THREADS=$((4 * $(nproc))) # orchardd's default; the bare server gets the same pool

wrk_run() { # URL [header] -> prints "rate p99ms"
	local out
	out=$(wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency ${2:+-H "$2"} "$1" 2>&1)
	local rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	local p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	local bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	[[ -n "$bad" && -z "${3:-}" ]] && echo "warning: $bad non-2xx responses" >&2
	echo "$rate $p99"
}

pg_start >/dev/null
orchardd_start
TOKEN=$(token all)
JTI=$(token_jti "$TOKEN")
sleep 1
idle_kb=$(awk '/VmRSS/ {print $2}' /proc/$OPID/status)

port=$((30000 + RANDOM % 20000))
build/bench/bare_mhd $port "$THREADS" "$TMP/var/pki/server.pem" "$TMP/var/pki/server.key" &
BARE=$!
for _ in $(seq 1 50); do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
kill -0 $BARE || { echo "bare_mhd did not start on port $port" >&2; exit 1; }

read -r bare_rate bare_p99 < <(wrk_run "https://127.0.0.1:$port/healthz")
read -r h_rate h_p99 < <(wrk_run "$URL/healthz")
read -r db_rate db_p99 < <(wrk_run "$URL/ops/tokens/$JTI" "Authorization: Bearer $TOKEN")
# A forged token (right shape, wrong signature: a full ECDSA verification)
# and junk (refused on its shape), both answered 401.
FORGED="$(cut -d. -f1,2 <<<"$TOKEN").$(cut -d. -f3 <<<"$TOKEN" | rev)"
read -r forged_rate forged_p99 < <(wrk_run "$URL/ops/tokens/$JTI" "Authorization: Bearer $FORGED" expect-401)
read -r junk_rate junk_p99 < <(wrk_run "$URL/ops/tokens/$JTI" "Authorization: Bearer not.a.token" expect-401)
pg_admin "CREATE DATABASE pgbench OWNER orchard"
pgbench -h "$PGDIR/run" -U orchard -i -s 1 -q pgbench >/dev/null 2>&1
# pgbench with one client (as the issue measured it) and with as many as
# orchardd has pool connections (a stricter ceiling, printed beside it).
pg_run() {
	pgbench -h "$PGDIR/run" -U orchard -S -M prepared -c "$1" -j "$2" -T "$SECONDS_EACH" pgbench 2>/dev/null |
		awk '/^tps/ {print $3; exit}'
}
POOL=$THREADS # orchardd's default pool: one connection per worker thread
pg1=$(pg_run 1 1)
pgn=$(pg_run "$POOL" 2)
busy_kb=$(awk '/VmRSS/ {print $2}' /proc/$OPID/status)
orchardd_stop

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
combined=$(awk -v a="$bare_rate" -v b="$pgn" 'BEGIN { printf "%.0f", 1 / (1 / a + 1 / b) }')
printf '%-48s %10s %10s %8s\n' "what" "req/s" "p99" "ratio"
printf '%-48s %10.0f %10s\n' "bare libmicrohttpd TLS (ceiling)" "$bare_rate" "$bare_p99"
printf '%-48s %10.0f %10s %8s  (target >= 90%%)\n' "orchardd GET /healthz" "$h_rate" "$h_p99" "$(ratio "$h_rate" "$bare_rate")"
printf '%-48s %10.0f %10s %8s  (of /healthz)\n' "forged token (ECDSA verify), 401" "$forged_rate" "$forged_p99" "$(ratio "$forged_rate" "$h_rate")"
printf '%-48s %10.0f %10s %8s  (of /healthz)\n' "junk token (refused on shape), 401" "$junk_rate" "$junk_p99" "$(ratio "$junk_rate" "$h_rate")"
printf '%-48s %10.0f\n' "pgbench -S -M prepared, 1 client" "$pg1"
printf '%-48s %10.0f\n' "pgbench -S -M prepared, $POOL clients (pool size)" "$pgn"
printf '%-48s %10.0f\n' "combined ceiling 1/(1/bare + 1/pgbench pool)" "$combined"
printf '%-48s %10.0f %10s %8s  (target >= 60%% of the combined ceiling)\n' \
	"orchardd GET /ops/tokens/{jti}, bearer" "$db_rate" "$db_p99" "$(ratio "$db_rate" "$combined")"
printf 'orchardd resident memory: %d KiB idle (target < 20 MB), %d KiB after the load\n' "$idle_kb" "$busy_kb"
