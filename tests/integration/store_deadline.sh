#!/bin/bash
# A PostgreSQL that hangs (SIGSTOP on its postmaster and backends) never
# hangs orchardd: every request answers 503 within the deadline, SIGTERM
# exits within the grace period, and after SIGCONT it serves again.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
DEADLINE=2 GRACE=5 SLACK=2
PG_PIDS=
cleanup() {
	[[ -n "$PG_PIDS" ]] && kill -CONT $PG_PIDS 2>/dev/null
	fixture_cleanup
}
trap cleanup EXIT

# pg_freeze / pg_thaw: stop or resume this cluster's postmaster and its
# backends only, by the pid in its own data folder.
pg_freeze() {
	local pm
	pm=$(head -1 "$PGDIR/pg/postmaster.pid")
	PG_PIDS="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
	kill -STOP $PG_PIDS
}
pg_thaw() {
	kill -CONT $PG_PIDS
	PG_PIDS=
}

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --db-timeout $DEADLINE --grace $GRACE || { tap_nok "orchardd starts"; tap_done; exit 1; }
ALL=$(token all)
jti=$(token_jti "$ALL")
AUTH=(-H "Authorization: Bearer $ALL")
http GET "/ops/tokens/$jti" "${AUTH[@]}"
expect_eq "a read works before the outage" 200 "$STATUS"

pg_freeze
clients=()
for i in $(seq 1 30); do
	"${CURL[@]}" -o /dev/null -D "$TMP/h$i" -w '%{http_code} %{time_total}\n' "${AUTH[@]}" \
		"$URL/ops/tokens/$jti" >"$TMP/r$i" 2>&1 &
	clients+=($!)
done
wait "${clients[@]}"
codes=$(cut -d' ' -f1 "$TMP"/r* | sort | uniq -c | sed 's/^ *//')
expect_eq "30 requests against a stopped PostgreSQL all answer 503" "30 503" "$codes"
slowest=$(cut -d' ' -f2 "$TMP"/r* | sort -n | tail -1)
expect "each within the deadline ($DEADLINE s) plus $SLACK s (slowest: $slowest s)" \
	awk -v t="$slowest" -v m=$((DEADLINE + SLACK)) 'BEGIN { exit !(t <= m) }'
expect "the 503 says when to retry" grep -qi '^retry-after:' "$TMP/h1"
http GET /readyz
expect_eq "readyz is 503 while the database hangs" 503 "$STATUS"
http GET /healthz
expect_eq "healthz stays 200" 200 "$STATUS"
expect "the missed deadline is logged" grep -q 'database missed a deadline' "$OLOG"
http GET /metrics
expect "and counted in /metrics" grep -qE '^orchard_db_deadlines_total [1-9]' <<<"$BODY"

pg_thaw
for _ in $(seq 1 50); do
	http GET "/ops/tokens/$jti" "${AUTH[@]}"
	[[ "$STATUS" == 200 ]] && break
	sleep 0.1
done
expect_eq "after SIGCONT orchardd serves again by itself" 200 "$STATUS"

# SIGTERM while PostgreSQL hangs and requests wait on it.
pg_freeze
clients=()
for i in $(seq 1 4); do
	"${CURL[@]}" -o /dev/null "${AUTH[@]}" "$URL/ops/tokens/$jti" 2>/dev/null &
	clients+=($!)
done
sleep 0.3
t0=$(date +%s.%N)
kill -TERM "$OPID"
wait "$OPID"
rc=$?
t1=$(date +%s.%N)
OPID=
wait "${clients[@]}"
expect_eq "SIGTERM with the database hung exits cleanly" 0 "$rc"
expect "and within the grace period ($GRACE s; took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)" \
	awk -v a="$t0" -v b="$t1" -v g=$GRACE 'BEGIN { exit !(b - a <= g) }'
pg_thaw
tap_done
