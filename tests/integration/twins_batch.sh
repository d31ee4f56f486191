#!/bin/bash
# The twin batch (server/twin_batch.c): desired PATCHes and GETs queued
# while the writer is busy go into one batch, one statement and one
# commit, and batching changes nothing a client sees. A transaction of the
# test holds one twin's row lock, so the writer blocks on it and the next
# requests queue behind it; /metrics' orchard_twin_batch_queued says when
# they all have. Then: a limit broken in a batch refuses that change only,
# If-Match is honoured inside a batch, several changes of one twin apply in
# order (strictly sequential versions, nothing lost), orchardd stopped
# with requests queued answers each (or closes) with nothing half-written,
# a PATCH whose body completes after the batch stopped is written alone
# (the optimistic one-twin write), and without a database the batch
# answers 503.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
HOLD_PID=
trap '[[ -n "$HOLD_PID" ]] && kill "$HOLD_PID" 2>/dev/null; fixture_cleanup' EXIT

pg_start || exit 1
orchardd_start --threads 2 || exit 1
TOKEN=$(token twins:read twins:write)
W=(-H "Authorization: Bearer $TOKEN")
J=(-H 'Content-Type: application/json')
psql_q() { psql "$ORCHARD_DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
metric() { "${CURL[@]}" "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# bg_patch ID BODY OUT [curl args]: a PATCH in the background, "status body" into OUT
bg_patch() {
	local id=$1 body=$2 out=$3
	shift 3
	"${CURL[@]}" -s -o "$out.body" -w '%{http_code}' "${W[@]}" "${J[@]}" -X PATCH "$@" \
		-d "$body" "$URL/twins/$id" >"$out" 2>/dev/null &
	PIDS+=($!)
}
# hold ID: a transaction that keeps ID's row locked until release
hold() {
	mkfifo "$TMP/hold.in"
	psql "$ORCHARD_DATABASE_URL" -qAt <"$TMP/hold.in" >"$TMP/hold.out" 2>&1 &
	HOLD_PID=$!
	exec 3>"$TMP/hold.in"
	echo "BEGIN; SELECT device_id FROM twins WHERE device_id = '$1' FOR UPDATE;" >&3
	for _ in $(seq 1 100); do grep -q "$1" "$TMP/hold.out" && return 0; sleep 0.05; done
	return 1
}
release() {
	echo "COMMIT;" >&3
	exec 3>&-
	wait "$HOLD_PID"
	HOLD_PID=
	rm -f "$TMP/hold.in"
}
# wait_blocked: until the writer waits on the held row lock (so that what
# is sent next queues behind it)
wait_blocked() {
	for _ in $(seq 1 200); do
		[[ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")" == 1 ]] && return 0
		sleep 0.05
	done
	return 1
}
# wait_queued N: until N jobs wait for the next batch
wait_queued() {
	for _ in $(seq 1 200); do
		[[ "$(metric orchard_twin_batch_queued)" == "$1" ]] && return 0
		sleep 0.05
	done
	return 1
}

for t in hold a b c d; do
	"${CURL[@]}" -o /dev/null "${W[@]}" "${J[@]}" -X PATCH -d '{"properties":{"desired":{"n":0}}}' "$URL/twins/$t"
done
# a: desired at 31 KB, 3.9 KB strings (each under the 4 KB limit)
fill=$(head -c 3900 /dev/zero | tr '\0' y)
"${CURL[@]}" -o /dev/null "${W[@]}" "${J[@]}" -X PATCH \
	-d "{\"properties\":{\"desired\":{$(for i in 1 2 3 4 5 6 7 8; do printf '"f%d":"%s",' $i "$fill"; done)\"n\":0}}}" "$URL/twins/a"
ETAG_B=$(psql_q "SELECT etag FROM twins WHERE device_id = 'b'")
ETAG_C=$(psql_q "SELECT etag FROM twins WHERE device_id = 'c'")
HIST0=$(psql_q "SELECT count(*) FROM twin_history")
commits0=$(metric orchard_twin_batch_commits_total) changes0=$(metric 'orchard_twin_batch_jobs_total{kind="change"}')

# --- one batch: a limit, If-Match, one twin five times, a GET -----------------------
hold hold || { tap_nok "a transaction holds the twin's lock"; exit 1; }
PIDS=()
bg_patch hold '{"properties":{"desired":{"n":1}}}' "$TMP/r.hold"
expect "the writer waits on the held lock" wait_blocked
bg_patch a "{\"properties\":{\"desired\":{\"s\":\"$fill\"}}}" "$TMP/r.big" # past 32 KB merged
bg_patch a '{"properties":{"desired":{"ok":1}}}' "$TMP/r.ok"
bg_patch b '{"properties":{"desired":{"m":1}}}' "$TMP/r.stale" -H 'If-Match: "00000000"'
bg_patch c '{"properties":{"desired":{"m":1}}}' "$TMP/r.match" -H "If-Match: \"$ETAG_C\""
for i in 1 2 3 4 5; do bg_patch d "{\"properties\":{\"desired\":{\"k$i\":$i}}}" "$TMP/r.d$i"; done
"${CURL[@]}" -o "$TMP/get.body" -w '%{http_code}' "${W[@]}" "$URL/twins/b" >"$TMP/r.get" &
PIDS+=($!)
expect "ten requests queue behind the blocked batch" wait_queued 10
release
wait "${PIDS[@]}"
expect_eq "the blocked change went through" 200 "$(cat "$TMP/r.hold")"
expect_eq "a limit broken in the batch refuses that change only" "400 200" \
	"$(cat "$TMP/r.big") $(cat "$TMP/r.ok")"
expect_eq "its problem type" "https://orchard.dev/problems/twin-too-large" "$(jq -r .type "$TMP/r.big.body")"
expect_eq "a stale If-Match in the batch is 412, a current one is 200" "412 200" \
	"$(cat "$TMP/r.stale") $(cat "$TMP/r.match")"
expect_eq "the GET in the batch is answered" "200 b" "$(cat "$TMP/r.get") $(jq -r .deviceId "$TMP/get.body")"
expect_eq "b unchanged by the refused change" "$ETAG_B" "$(psql_q "SELECT etag FROM twins WHERE device_id = 'b'")"
expect_eq "a holds only the accepted change" '["f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "n", "ok"]' \
	"$(psql_q "SELECT jsonb_agg(k ORDER BY k) FROM twins, jsonb_object_keys(desired - '\$metadata' - '\$version') k WHERE device_id = 'a'")"
codes=$(cat "$TMP"/r.d? | tr -d '\n')
expect_eq "five changes of one twin all succeed" 200200200200200 "$codes"
expect_eq "in order: versions strictly sequential, nothing lost" "7 5 2,3,4,5,6,7" \
	"$(psql_q "SELECT (desired->>'\$version'), (SELECT count(*) FROM jsonb_object_keys(desired) k WHERE k LIKE 'k%') FROM twins WHERE device_id = 'd'" | tr '|' ' ') $(psql_q "SELECT string_agg(version::text, ',' ORDER BY version) FROM twin_history WHERE device_id = 'd'")"
vers=$(for i in 1 2 3 4 5; do jq -r '.properties.desired["$version"]' "$TMP/r.d$i.body"; done | sort -n | tr '\n' ' ')
expect_eq "each answer carries its own desired \$version" "3 4 5 6 7 " "$vers"
expect_eq "one history row a written change" $((HIST0 + 8)) "$(psql_q "SELECT count(*) FROM twin_history")"
commits=$(($(metric orchard_twin_batch_commits_total) - commits0))
changes=$(($(metric 'orchard_twin_batch_jobs_total{kind="change"}') - changes0))
expect_eq "8 changes written" 8 "$changes"
expect "in fewer commits than changes (batched: $commits commits)" test "$commits" -le 6

# --- the writer's cache: a twin changed elsewhere since this writer wrote it --------
# (as another orchardd would: a new etag and tags; c was written above, so
# this writer holds its row)
psql_q "UPDATE twins SET etag = 'elsewhere01', tags = '{\"moved\": 1}' WHERE device_id = 'c'"
dv=$(psql_q "SELECT desired->>'\$version' FROM twins WHERE device_id = 'c'")
"${CURL[@]}" -o "$TMP/c.body" -w '%{http_code}' "${W[@]}" "${J[@]}" -X PATCH -H 'If-Match: "elsewhere01"' \
	-d '{"properties":{"desired":{"after":1}}}' "$URL/twins/c" >"$TMP/c.code"
expect_eq "If-Match with the etag written elsewhere is 200, not 412" 200 "$(cat "$TMP/c.code")"
expect_eq "merged into the twin as it is now" "1 $((dv + 1))" \
	"$(jq -r '"\(.tags.moved) \(.properties.desired["$version"])"' "$TMP/c.body")"
psql_q "UPDATE twins SET etag = 'elsewhere02' WHERE device_id = 'c'"
http PATCH /twins/c "${W[@]}" "${J[@]}" -H 'If-Match: "elsewhere01"' -d '{"properties":{"desired":{"late":1}}}'
expect_problem "an etag that moved elsewhere is still 412" 412 twin-etag-mismatch

# --- stopped with requests queued --------------------------------------------------
hold hold || { tap_nok "a transaction holds the twin's lock again"; exit 1; }
PIDS=()
bg_patch hold '{"properties":{"desired":{"n":2}}}' "$TMP/s.hold"
expect "the writer waits on the held lock again" wait_blocked
for i in $(seq 1 8); do bg_patch "s$((i % 2))" "{\"properties\":{\"desired\":{\"q$i\":$i}}}" "$TMP/s.$i"; done
for t in a b c; do bg_patch $t '{"properties":{"desired":{"stop":1}}}' "$TMP/s.$t"; done
expect "eleven requests queue behind the blocked batch" wait_queued 11
HIST1=$(psql_q "SELECT count(*) FROM twin_history")
kill -TERM "$OPID"
release
wait "${PIDS[@]}"
wait "$OPID"
expect_eq "orchardd stops cleanly" 0 "$?"
OPID=
ok=0 other=0
for f in "$TMP"/s.*; do
	[[ "$f" == *.body ]] && continue
	case "$(cat "$f")" in 200) ok=$((ok + 1)) ;; *) other=$((other + 1)) ;; esac
done
echo "# on stop: $ok answered 200, $other 503 or closed"
expect_eq "every queued request got an answer or a closed connection" 12 $((ok + other))
expect_eq "each 200 is one history row, nothing else was written" "$((HIST1 + ok))" \
	"$(psql_q "SELECT count(*) FROM twin_history")"
expect_eq "every twin's history matches its version" 0 \
	"$(psql_q "SELECT count(*) FROM twins t WHERE version <> (SELECT max(version) FROM twin_history h WHERE h.device_id = t.device_id)")"

# --- stopped while a desired PATCH's body is still coming --------------------------
# The batch is gone when the body completes, so the one-twin optimistic write
# (the batch's statement with one change) answers it within the grace period.
pg_admin "ALTER SYSTEM SET log_statement = 'all'" && pg_admin "SELECT pg_reload_conf()" >/dev/null
log0=$(wc -l <"$PGDIR/pg.log")
orchardd_start --threads 2 || exit 1
late0=$(psql_q "SELECT version, (SELECT count(*) FROM twin_history WHERE device_id = 'a'),
	(SELECT count(*) FROM audit_log WHERE method = 'PATCH' AND path = '/twins/a') FROM twins WHERE device_id = 'a'")
body='{"properties":{"desired":{"late":1}}}'
mkfifo "$TMP/late.in"
openssl s_client -quiet -connect "127.0.0.1:${URL##*:}" -CAfile "$TMP/var/pki/root.pem" \
	<"$TMP/late.in" >"$TMP/late.out" 2>/dev/null &
HOLD_PID=$!
exec 4>"$TMP/late.in"
printf 'PATCH /twins/a HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
	"$TOKEN" ${#body} "${body:0:12}" >&4
in_flight() { # N: until N requests are in flight (the asking one included)
	for _ in $(seq 1 100); do [[ "$(metric orchard_http_requests_in_flight)" == "$1" ]] && return 0; sleep 0.05; done
	return 1
}
expect "the PATCH's headers and part of its body are in" in_flight 2
kill -TERM "$OPID"
stopped() { for _ in $(seq 1 100); do grep -q 'twin batch stopped' "$OLOG" && return 0; sleep 0.05; done; return 1; }
expect "the batch stops while the body is still coming" stopped
printf '%s' "${body:12}" >&4
exec 4>&-
wait "$HOLD_PID"
HOLD_PID=
wait "$OPID"
expect_eq "orchardd stops cleanly after answering it" 0 "$?"
OPID=
expect_eq "the late PATCH is answered 200" "HTTP/1.1 200" "$(head -c 12 "$TMP/late.out")"
expect_eq "its change, one history row and its audit row are in, in one write" \
	"$(awk -F'|' '{print $1 + 1 "|" $2 + 1 "|" $3 + 1}' <<<"$late0")" \
	"$(psql_q "SELECT version, (SELECT count(*) FROM twin_history WHERE device_id = 'a'),
	(SELECT count(*) FROM audit_log WHERE method = 'PATCH' AND path = '/twins/a') FROM twins WHERE device_id = 'a'")"
expect_eq "with the desired value sent" 1 "$(psql_q "SELECT desired->>'late' FROM twins WHERE device_id = 'a'")"
expect_eq "written by one optimistic write, no lost race, no locking transaction" "1 0" \
	"$(tail -n +$((log0 + 1)) "$PGDIR/pg.log" | grep -c 'execute update_twins_if') $(tail -n +$((log0 + 1)) "$PGDIR/pg.log" | grep -c 'FOR UPDATE')"
pg_admin "ALTER SYSTEM RESET log_statement" && pg_admin "SELECT pg_reload_conf()" >/dev/null

# --- the database gone: the batch answers 503 ---------------------------------------
orchardd_start --threads 2 --db-timeout 2 || exit 1
pg_stop >/dev/null 2>&1
http PATCH /twins/a "${W[@]}" "${J[@]}" -d '{"properties":{"desired":{"gone":1}}}'
expect_problem "a PATCH without a database is 503" 503 db-unavailable
http GET /twins/a "${W[@]}"
expect_problem "a GET without a database is 503" 503 db-unavailable
orchardd_stop
expect_eq "orchardd still stops cleanly" 0 "$?"
tap_done
