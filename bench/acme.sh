#!/bin/bash
# Complete ACME issuances per second (newOrder, http-01, finalize, download)
# with build/bench/acme_load, against orchardd on a durable PostgreSQL
# (fsync and synchronous_commit on) and, in the same run with the same
# client and responder, against Pebble (Debian `pebble`, PEBBLE_VA_NOSLEEP=1,
# validating for real). pebble-challtestsrv serves DNS only: every name is
# 127.0.0.1 / ::1, where acme_load answers http-01 itself.
# Knobs: ACME_BENCH_ACCOUNTS (32: see docs/acme.md, "32 accounts, not 64"),
# ACME_BENCH_PEBBLE_ACCOUNTS (8: Debian's Pebble 2.3 deadlocks in FinalizeOrder with 16 or 32 parallel accounts, seen in
# a goroutine dump; with 8, about one run in three hangs the same way, all its
# accounts timing out at once: acme_load then stops with aborted=1 and Pebble
# starts afresh, up to five runs), ACME_BENCH_FLOWS (2000), ACME_BENCH_POLL_MS (10),
# ACME_BENCH_STAGE=ready (stop each flow at a ready order), ACME_BENCH_KEEP=DIR
# (keep the servers' logs there), ACME_BENCH_PGSS=1 (print orchardd's
# statements per issuance from pg_stat_statements, the tables' scans, the ACME
# indexes' scans and sizes, WAL records, full-page images, bytes, writes and
# syncs per issuance from pg_stat_wal), ACME_BENCH_DUMPDB=DIR (after the
# orchardd run: DIR/orchard.dump, pg_dump -Fc of its database, and with PGSS
# DIR/pgss.csv, the statements run more than 50 times, to replay them),
# ACME_BENCH_PERF=DIR
# (perf record -g orchardd and its PostgreSQL backends during the orchardd run,
# DIR/orchardd.perf and DIR/postgres.perf; the whole load client's run in
# DIR/acme_load.perf), ACME_BENCH_NO_PEBBLE=1, ACME_BENCH_LOAD and
# ACME_BENCH_ORCHARDD (other acme_load and orchardd binaries, for A/B runs).
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
ORCHARDD=${ACME_BENCH_ORCHARDD:-$ORCHARDD}
CTS= PEB= PERFS=
trap 'kill $CTS $PEB 2>/dev/null; [[ -n "${ACME_BENCH_KEEP:-}" ]] && cp "$TMP"/*.log "$ACME_BENCH_KEEP"/; fixture_cleanup' EXIT
ACCOUNTS=${ACME_BENCH_ACCOUNTS:-32}
FLOWS=${ACME_BENCH_FLOWS:-2000}
PEBBLE_ACCOUNTS=${ACME_BENCH_PEBBLE_ACCOUNTS:-8}
POLL_MS=${ACME_BENCH_POLL_MS:-10}
STAGE=()
[[ "${ACME_BENCH_STAGE:-}" == ready ]] && STAGE=(--no-finalize)
make -s "$BUILD/bench/acme_load" "$BUILD/orchardd" || exit 1
LOAD=${ACME_BENCH_LOAD:-$BUILD/bench/acme_load}

free_port() { # a port no socket uses (TCP or UDP), below the ephemeral range
	local p
	while :; do
		p=$((10000 + RANDOM % 22000))
		ss -Htuan "( sport = :$p )" | grep -q . || { echo $p; return; }
	done
}
wait_url() { # URL CACERT: up to 10 s
	for _ in $(seq 1 100); do
		curl -sf -o /dev/null --cacert "$2" "$1" && return 0
		sleep 0.1
	done
	echo "acme.sh: $1 did not come up" >&2
	return 1
}
run_load() { # DIRECTORY CACERT ACCOUNTS [PERF_FILE] -> "certs=... rate=... p50_ms=... p99_ms=..."
	local pre=()
	[[ -n "${4:-}" ]] && pre=(perf record -q -e cpu-clock -g -o "$4" --)
	"${pre[@]}" "$LOAD" --dir "$1" --cacert "$2" --http-port "$HTTP_PORT" --accounts "$3" \
		--flows "$FLOWS" --poll-ms "$POLL_MS" "${STAGE[@]}"
}
# CPU seconds (user+system) of the processes given, from /proc.
cpu_s() { cat $(printf '/proc/%s/stat ' "$@") 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{t += $14 + $15} END {printf "%.3f", t / hz}'; }
# PostgreSQL's processes: the postmaster and its children (orchardd's pool
# connections live as long as orchardd, so they are all there at the end).
pg_pids() { local pm; pm=$(head -1 "$TMP/db/pg/postmaster.pid"); echo "$pm" $(pgrep -P "$pm"); }
pg_xacts() { pg_admin "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'orchard'"; }
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
# orchardd's run per issuance: PostgreSQL transactions, and the CPU of
# orchardd, PostgreSQL and the load client (acme_load's own getrusage from
# the clock's start: the three share the machine's cores).
per_issuance() {
	awk -v n="$(field "$ours" certs)" -v x="$((x1 - x0))" -v o="$o0 $o1" -v p="$p0 $p1" -v c="$(field "$ours" client_cpu_ms)" \
		'BEGIN { split(o, a, " "); split(p, b, " "); if (n > 0) { oc = (a[2] - a[1]) * 1000 / n; pc = (b[2] - b[1]) * 1000 / n;
		printf "orchardd per issuance: %.1f PostgreSQL transactions, CPU ms: orchardd %.2f, PostgreSQL %.2f, load client %.2f, total %.2f (2 cores at 300/s: 6.67)\n", x / n, oc, pc, c, oc + pc + c } }'
}

HTTP_PORT=$(free_port)
DNS_PORT=$(free_port)
pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
	-management "127.0.0.1:$(free_port)" >"$TMP/challtestsrv.log" 2>&1 &
CTS=$!

# orchardd on a durable cluster: pg-cluster without --fast keeps PostgreSQL's
# defaults (fsync, synchronous_commit, full_page_writes on).
"$ROOT/scripts/pg-cluster" start "$TMP/db" >&2 || exit 1
export PGDIR="$TMP/db" ORCHARD_DATABASE_URL=$("$ROOT/scripts/pg-cluster" url "$TMP/db")
if [[ -n "${ACME_BENCH_PGSS:-}" ]]; then
	echo "shared_preload_libraries = 'pg_stat_statements'" >>"$TMP/db/pg/postgresql.conf"
	"$ROOT/scripts/pg-cluster" stop "$TMP/db" && "$ROOT/scripts/pg-cluster" start "$TMP/db" >&2 || exit 1
	pg_admin "CREATE EXTENSION pg_stat_statements" || exit 1
fi
# This machine's speed moves by up to 2x from one day to the next
# (docs/acme.md, "Where it stands"). ECDSA P-256 verification, the costliest
# step of an issuance in orchardd, measured before the load, puts runs of
# different days side by side.
yardstick="openssl speed ecdsap256: $(openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ {printf "%.0f", $NF}') verifications/s"
durable=$(pg_admin "SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')")
orchardd_start --acme-http-port "$HTTP_PORT" --acme-resolver "127.0.0.1:$DNS_PORT" \
	--acme-orders-per-hour 0 --acme-pending-authz-max 0 || exit 1
# Per issuance: PostgreSQL transactions, orchardd and PostgreSQL CPU (the
# accounts' creation included: it is small beside the flows).
[[ -n "${ACME_BENCH_PGSS:-}" ]] && pg_admin "SELECT pg_stat_reset_shared('wal')" >/dev/null
x0=$(pg_xacts) o0=$(cpu_s "$OPID") p0=$(cpu_s $(pg_pids))
if [[ -n "${ACME_BENCH_PERF:-}" ]]; then
	# Starts once the accounts exist and the pool's connections are open.
	(sleep 4; perf record -q -e cpu-clock -g -o "$ACME_BENCH_PERF/orchardd.perf" -p "$OPID" -- sleep 8 >/dev/null 2>&1) &
	PERFS=$!
	(sleep 4; perf record -q -e cpu-clock -g -o "$ACME_BENCH_PERF/postgres.perf" -p "$(pg_pids | tr ' ' ',')" -- sleep 8 >/dev/null 2>&1) &
	PERFS="$PERFS $!"
fi
ours=$(run_load "$URL/acme/directory" "$TMP/var/pki/root.pem" "$ACCOUNTS" ${ACME_BENCH_PERF:+"$ACME_BENCH_PERF/acme_load.perf"}) || echo "acme.sh: orchardd run had failures" >&2
[[ -n "${PERFS:-}" ]] && wait $PERFS
echo "orchardd: $ours" >&2
x1=$(pg_xacts) o1=$(cpu_s "$OPID") p1=$(cpu_s $(pg_pids))
[[ -n "${ACME_BENCH_PGSS:-}" ]] && pg_admin "SELECT round(calls::numeric / $(field "$ours" certs), 2) AS per_cert,
	round(total_exec_time::numeric / $(field "$ours" certs), 3) AS ms_per_cert, left(regexp_replace(query, '\s+', ' ', 'g'), 110)
	FROM pg_stat_statements WHERE calls > 0 ORDER BY calls DESC LIMIT 25" >&2
[[ -n "${ACME_BENCH_PGSS:-}" ]] && pg_admin "SELECT relname, seq_scan, seq_tup_read, idx_scan, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
	FROM pg_stat_user_tables WHERE seq_scan + coalesce(idx_scan, 0) > 0 ORDER BY seq_tup_read DESC LIMIT 12" >&2
[[ -n "${ACME_BENCH_PGSS:-}" ]] && pg_admin "SELECT 'WAL per issuance: records ' || round(wal_records::numeric / $(field "$ours" certs), 1)
	|| ', full-page images ' || round(wal_fpi::numeric / $(field "$ours" certs), 2) || ', bytes ' || round(wal_bytes / $(field "$ours" certs))
	|| ', writes ' || round(wal_write::numeric / $(field "$ours" certs), 2) || ', syncs ' || round(wal_sync::numeric / $(field "$ours" certs), 2) FROM pg_stat_wal" >&2
[[ -n "${ACME_BENCH_PGSS:-}" ]] && pg_admin "SELECT relname, indexrelname, idx_scan, pg_relation_size(indexrelid) AS bytes
	FROM pg_stat_user_indexes WHERE relname LIKE 'acme%' OR relname = 'certificates' ORDER BY relname, indexrelname" >&2
if [[ -n "${ACME_BENCH_DUMPDB:-}" ]]; then
	[[ -n "${ACME_BENCH_PGSS:-}" ]] && pg_admin "COPY (SELECT queryid, calls, query FROM pg_stat_statements
		WHERE calls > 50) TO STDOUT WITH (FORMAT csv)" >"$ACME_BENCH_DUMPDB/pgss.csv"
	pg_dump -h "$TMP/db/run" -U orchard -d orchard -Fc -f "$ACME_BENCH_DUMPDB/orchard.dump" || echo "acme.sh: pg_dump failed" >&2
fi
orchardd_stop
if [[ -n "${ACME_BENCH_NO_PEBBLE:-}" ]]; then
	echo "orchardd: $ours"
	per_issuance
	echo "machine: $yardstick"
	exit 0
fi

# Pebble, its VA pointed at the same responder port and DNS server.
PEB_PORT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/pebble.key" -out "$TMP/pebble.pem" 2>/dev/null
cat >"$TMP/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PEB_PORT",
  "managementListenAddress": "127.0.0.1:$(free_port)",
  "certificate": "$TMP/pebble.pem", "privateKey": "$TMP/pebble.key",
  "httpPort": $HTTP_PORT, "tlsPort": $(free_port), "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
EOF
# Pebble 2.3 deadlocks in FinalizeOrder now and then (see the knobs above):
# a run it aborted measures the deadlock, not Pebble, so it starts afresh,
# up to five times, and the table says how many runs it took.
pebble_tries=0
while ((pebble_tries < 5)); do
	pebble_tries=$((pebble_tries + 1))
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
		pebble -config "$TMP/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$TMP/pebble.log" 2>&1 &
	PEB=$!
	wait_url "https://127.0.0.1:$PEB_PORT/dir" "$TMP/pebble.pem" || { tail -5 "$TMP/pebble.log"; exit 1; }
	theirs=$(run_load "https://127.0.0.1:$PEB_PORT/dir" "$TMP/pebble.pem" "$PEBBLE_ACCOUNTS") || echo "acme.sh: pebble run had failures" >&2
	kill $PEB 2>/dev/null
	wait $PEB 2>/dev/null
	PEB=
	[[ "$(field "$theirs" aborted)" == 1 ]] || break
	echo "acme.sh: pebble hung (run $pebble_tries: $theirs)" >&2
done

what="complete issuances"
[[ ${#STAGE[@]} -gt 0 ]] && what="flows up to a ready order"
echo "$what: $FLOWS each, poll every ${POLL_MS} ms, $(nproc) cores (load average now: $(cut -d' ' -f1 /proc/loadavg); $yardstick)"
printf '%-46s %10s %10s %10s %8s\n' "server" "certs/s" "p50 ms" "p99 ms" "failed"
printf '%-46s %10s %10s %10s %8s\n' "orchardd, $ACCOUNTS accounts (fsync/sync_commit $durable)" \
	"$(field "$ours" rate)" "$(field "$ours" p50_ms)" "$(field "$ours" p99_ms)" "$(field "$ours" failed)"
pebble_runs=
((pebble_tries > 1)) && pebble_runs=", run $pebble_tries"
printf '%-46s %10s %10s %10s %8s\n' "pebble, $PEBBLE_ACCOUNTS accounts (VA_NOSLEEP=1$pebble_runs)" \
	"$(field "$theirs" rate)" "$(field "$theirs" p50_ms)" "$(field "$theirs" p99_ms)" "$(field "$theirs" failed)"
per_issuance
echo "load client CPU per issuance against pebble: $(field "$theirs" client_cpu_ms) ms"
awk -v a="$(field "$ours" rate)" -v b="$(field "$theirs" rate)" -v hung="$(field "$theirs" aborted)" \
	'BEGIN { if (hung == 1) print "orchardd / pebble: no ratio, Pebble hung in every run"; else if (b > 0) printf "orchardd / pebble: %.2fx   (target: >= 300 certs/s and ahead of Pebble; Let'"'"'s Encrypt: ~94/s fleet-wide)\n", a / b }'
[[ -n "$ours" && -n "$theirs" ]]
