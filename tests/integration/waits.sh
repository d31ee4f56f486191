#!/bin/bash
# Requests that wait without a thread: the audit long poll and event stream,
# woken across orchardd instances by PostgreSQL NOTIFY, bounded by deadlines
# and answered at shutdown.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
trap fixture_cleanup EXIT

pg_start || exit 1
orchardd_start --threads 2 || exit 1
ALL=$(token all)
A=(-H "Authorization: Bearer $ALL")
mint() { "${CURL[@]}" -o /dev/null "${A[@]}" -X POST -H 'Content-Type: application/json' \
	-d "{\"subject\":\"$1\",\"scope\":\"audit:read\"}" "${2:-$URL}/ops/tokens"; }
last_id() { psql "$ORCHARD_DATABASE_URL" -Atc 'SELECT coalesce(max(id), 0) FROM audit_log'; }

# --- the long poll ----------------------------------------------------------------
mint first
http GET "/ops/audit?after=0&wait=5" "${A[@]}"
expect_eq "entries after the cursor answer at once" "200 first" \
	"$STATUS $(jq -r '.items[0].path as $p | .items | length as $n | if $n == 1 then "first" else $n end' <<<"$BODY")"
expect "with a next link that continues the poll" grep -q "after=1&wait=5" <<<"$(jq -r .next <<<"$BODY")"
start=$(date +%s%N)
http GET "/ops/audit?after=1&wait=1" "${A[@]}"
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "nothing new: 204 when the wait is over" 204 "$STATUS"
expect "after about the wait (${ms} ms)" test "$ms" -ge 950 -a "$ms" -lt 3000
for q in "after=1&wait=61" "after=1&wait=-1" "after=x" "wait=5" "after=1&before=3"; do
	http GET "/ops/audit?$q" "${A[@]}"
	expect_problem "bad query $q: 400" 400 invalid-parameter
done

# A second orchardd on the same database: its write wakes our waiter.
OPID1=$OPID URL1=$URL
orchardd_start --threads 2 || exit 1
URL2=$URL OPID2=$OPID
OPID=$OPID1 URL=$URL1
after=$(last_id)
( sleep 0.5; mint from-b "$URL2" ) &
bg=$!
start=$(date +%s%N)
http GET "/ops/audit?after=$after&wait=20" "${A[@]}"
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "a write on another instance wakes the waiter" 200 "$STATUS"
expect "within a moment of the write (${ms} ms)" test "$ms" -lt 3000
expect_eq "and it gets that entry" "$((after + 1))" "$(jq -r '.items[0].id' <<<"$BODY")"
wait $bg

# Waiters hold no thread: with 2 worker threads, 100 waiting requests
# leave /healthz and the database as quick as ever.
after=$(last_id)
pids=()
for i in $(seq 1 100); do
	"${CURL[@]}" -o /dev/null -w '%{http_code}\n' "${A[@]}" "$URL/ops/audit?after=$after&wait=30" >>"$TMP/waiters" &
	pids+=($!)
done
for _ in $(seq 1 100); do
	n=$("${CURL[@]}" "$URL/metrics" | grep '^orchard_requests_waiting ' | cut -d' ' -f2)
	[[ "$n" == 100 ]] && break
	sleep 0.1
done
expect_eq "100 requests wait, suspended" 100 "$n"
start=$(date +%s%N)
http GET /healthz
ms=$((($(date +%s%N) - start) / 1000000))
expect "and /healthz still answers at once (${ms} ms)" test "$STATUS" = 200 -a "$ms" -lt 1000
mint wake-them-all
wait "${pids[@]}"
expect_eq "one write wakes all 100 with the entry" "100 200" "$(sort "$TMP/waiters" | uniq -c | tr -s ' ' | sed 's/^ //')"

# The listener reconnects after losing its connection, and misses nothing.
psql "$ORCHARD_DATABASE_URL" -Atc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()" >/dev/null
after=$(last_id)
mint while-reconnecting
http GET "/ops/audit?after=$after&wait=10" "${A[@]}"
expect_eq "an entry written while the listener was down is found" 200 "$STATUS"
sleep 1.5
after=$(last_id)
( sleep 0.5; mint after-reconnect ) &
bg=$!
start=$(date +%s%N)
http GET "/ops/audit?after=$after&wait=20" "${A[@]}"
ms=$((($(date +%s%N) - start) / 1000000))
expect "after the reconnect, writes wake waiters again ($STATUS in ${ms} ms)" test "$STATUS" = 200 -a "$ms" -lt 3000
wait $bg

# Revocations ride the same hub: one on the second instance is refused by
# the first at once, also after the listener reconnected.
for round in first after-reconnect; do
	victim=$("$ORCHARDD" --data-dir "$TMP/var" token issue --scope audit:read 2>/dev/null)
	http GET /ops/audit -H "Authorization: Bearer $victim"
	expect_eq "a fresh token works ($round)" 200 "$STATUS"
	"${CURL[@]}" -o /dev/null "${A[@]}" -X DELETE "$URL2/ops/tokens/$(token_jti "$victim")"
	for _ in $(seq 1 40); do
		http GET /ops/audit -H "Authorization: Bearer $victim"
		[[ "$STATUS" == 401 ]] && break
		sleep 0.05
	done
	expect_problem "revoked on the other instance: refused here within 2 s ($round)" 401 auth-revoked
	psql "$ORCHARD_DATABASE_URL" -Atc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()" >/dev/null
	sleep 1.5
done

# --- the event stream -------------------------------------------------------------
after=$(last_id)
"${CURL[@]}" -N "${A[@]}" "$URL/ops/audit/stream" >"$TMP/sse" 2>/dev/null &
sse=$!
sleep 0.5
mint s1
mint s2 "$URL2"
for _ in $(seq 1 50); do [[ $(grep -c '^id: ' "$TMP/sse") -ge 2 ]] && break; sleep 0.1; done
expect_eq "the stream sends new entries from both instances, in order" \
	"$((after + 1)) $((after + 2))" "$(grep '^id: ' "$TMP/sse" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
expect "each as an audit event with the entry as data" \
	grep -q "^data: {\"id\":$((after + 2))," "$TMP/sse"
kill $sse 2>/dev/null
wait $sse 2>/dev/null
mint s3
mint s4
"${CURL[@]}" -N -H "Last-Event-ID: $((after + 2))" "${A[@]}" "$URL/ops/audit/stream" >"$TMP/sse2" 2>/dev/null &
sse=$!
for _ in $(seq 1 50); do [[ $(grep -c '^id: ' "$TMP/sse2") -ge 2 ]] && break; sleep 0.1; done
expect_eq "Last-Event-ID resumes with nothing missed" "$((after + 3)) $((after + 4))" \
	"$(grep '^id: ' "$TMP/sse2" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
http GET "/ops/audit/stream" "${A[@]}" -H "Last-Event-ID: x"
expect_problem "a bad Last-Event-ID: 400" 400 invalid-parameter
http GET "/ops/audit/stream"
expect_problem "the stream needs a token" 401 auth-missing

# --- shutdown answers everyone who waits --------------------------------------------
after=$(last_id)
pids=()
for i in $(seq 1 20); do
	"${CURL[@]}" -o /dev/null -w '%{http_code}\n' "${A[@]}" "$URL/ops/audit?after=$after&wait=60" >>"$TMP/late" &
	pids+=($!)
done
# All 20 must be waiting before the signal: a slow machine may still be in
# their TLS handshakes a second later.
for _ in $(seq 1 100); do
	n=$("${CURL[@]}" "$URL/metrics" | grep '^orchard_requests_waiting ' | cut -d' ' -f2)
	((n >= 20)) && break
	sleep 0.1
done
start=$(date +%s%N)
orchardd_stop
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "SIGTERM with waiters and a stream open: a clean exit" 0 "$rc"
expect "at once, not after the waits (${ms} ms)" test "$ms" -lt 3000
wait $sse
expect_eq "the stream ends cleanly" 0 $?
wait "${pids[@]}"
expect_eq "every waiter got its 204" "20 204" "$(sort "$TMP/late" | uniq -c | tr -s ' ' | sed 's/^ //')"
OPID=$OPID2
orchardd_stop
tap_done
