#!/bin/bash
# orchardd under hostile clients: odd bytes in headers and paths, HEAD,
# raw HTTP/1.1 edge cases, races on revocation, load while PostgreSQL dies
# and while SIGTERM arrives. Every refusal must be a problem+json.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start --threads 4 || { tap_nok "orchardd starts"; tap_done; exit 1; }
ALL=$(token all)
AUTH=(-H "Authorization: Bearer $ALL")
JSON=(-H "Content-Type: application/json")

# raw PORT: sends stdin's bytes as they are over TLS, prints the reply
# (curl would encode or refuse some of them).
raw() {
	python3 -c '
import os, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="127.0.0.1")
s.settimeout(10)
s.sendall(sys.stdin.buffer.read())
out = b""
try:
    while (b := s.recv(65536)):
        out += b
except (socket.timeout, ssl.SSLError, OSError):
    pass
sys.stdout.buffer.write(out)
' "$1" "$TMP/var/pki/root.pem"
}
# raw_status: the status line's code of a raw reply on stdin
raw_status() { head -1 | cut -d' ' -f2; }
audit_lost() { grep -c '"msg":"audit entry not stored"' "$OLOG"; }

# --- bytes that are not UTF-8 ---------------------------------------------------
# The 415 quotes the Content-Type; a byte jansson refuses used to make the
# problem unbuildable, and the request fell through to the handler with no
# parsed body (a 400 invalid-field as if the type had been accepted).
http POST /ops/tokens "${AUTH[@]}" -H $'Content-Type: text/\xff' -d '{"subject":"x","scope":"all"}'
expect_problem "a Content-Type that is not UTF-8 is a 415" 415 unsupported-media-type
http POST /ops/tokens "${AUTH[@]}" -H "Content-Type: text/$(printf 'é%.0s' $(seq 1 300))" -d '{}'
expect_problem "a long UTF-8 Content-Type cut inside a character is a 415" 415 unsupported-media-type
# A jti that is not UTF-8 reached PostgreSQL, which refused it: 503 (a lie:
# the database is fine), an error log, and the audit row was lost.
http GET /ops/tokens/%FF "${AUTH[@]}"
expect_problem "a path segment decoding to bad UTF-8 is a 404, not a 503" 404 not-found
http DELETE /ops/tokens/%C3%28 "${AUTH[@]}"
expect_problem "an encoded invalid sequence is a 404 too" 404 not-found
reply=$(printf 'DELETE /ops/tokens/\xff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$ALL" | raw "$PORT" | tr -d '\0')
expect_eq "a raw non-UTF-8 byte in the path is a 404" 404 "$(raw_status <<<"$reply")"
reply=$(printf 'DELETE /ops/tokens/\xc3%%A9 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$ALL" | raw "$PORT" | tr -d '\0')
expect_eq "half a character raw, half encoded: 404" 404 "$(raw_status <<<"$reply")"
expect_eq "no audit entry was lost to bytes PostgreSQL refuses" 0 "$(audit_lost)"
http DELETE "/ops/tokens/$(printf 'caf%%C3%%A9')" "${AUTH[@]}"
expect_problem "a well-formed non-ASCII jti is looked up (404: none)" 404 not-found
n=$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) FROM audit_log WHERE path = '/ops/tokens/caf%C3%A9' AND status = 404")
expect_eq "and audited" 1 "$n"
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"a\u0000b","scope":"all"}'
expect_problem "a NUL in a JSON string is refused" 400 malformed-json
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" --data-binary $'{"subject":"\xff","scope":"all"}'
expect_problem "a JSON body that is not UTF-8 is refused" 400 malformed-json
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"é€😀","scope":"audit:read","ttl":60}'
expect_eq "a subject outside the BMP is stored" "201 é€😀" "$STATUS $(jq -r .subject <<<"$BODY")"
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -X POST --data-binary ''
expect_problem "an empty body is malformed JSON" 400 malformed-json
expect_eq "and the detail says so" "the body is empty" "$(jq -r .detail <<<"$BODY")"

# --- methods ------------------------------------------------------------------------
# HEAD is GET without a body (RFC 9110): load balancers probe with it.
http HEAD /healthz -I
expect_eq "HEAD /healthz is 200" 200 "$STATUS"
http HEAD /ops/audit -I "${AUTH[@]}"
expect_eq "HEAD on an operator route is 200 with a token" 200 "$STATUS"
http POST /healthz
expect "a 405 on a GET route allows HEAD too" grep -qi '^allow: GET, HEAD$' <<<"$HEADERS"
# A route that exists for another method left its name in Allow on every
# other reply: a 404 for DELETE said "Allow: GET".
http DELETE /ops/tokens/0000 "${AUTH[@]}"
expect_problem "DELETE of an unknown jti is a 404" 404 not-found
expect "only a 405 carries Allow" bash -c "! grep -qi '^allow:' <<<\"\$1\"" _ "$HEADERS"
for m in OPTIONS TRACE FOO; do
	http "$m" /healthz
	expect_problem "$m is a 405" 405 method-not-allowed
done
n=$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) FROM audit_log WHERE method = 'HEAD'")
expect_eq "HEAD is not audited" 0 "$n"

# --- raw HTTP/1.1 ---------------------------------------------------------------------
# Pipelining and other raw framing: tests/cases/*.case (tests/protocol/cases.py).
reply=$(printf 'POST /ops/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"sub\r\n1e\r\nject":"c","scope":"audit:read"\r\n1\r\n}\r\n0\r\n\r\n' "$ALL" | raw "$PORT")
expect_eq "a chunked body is reassembled" 201 "$(raw_status <<<"$reply")"
# A chunked body has no Content-Length to refuse early; the 413 was queued
# mid-upload, which MHD refuses: the connection closed with no reply.
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$TMP/big.json"
expect_problem "a chunked body over the limit is a 413" 413 body-too-large
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -H "Transfer-Encoding: chunked" -H "Expect:" \
	--data-binary @"$TMP/big.json"
expect_problem "without Expect: 100-continue too" 413 body-too-large
n=$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) FROM audit_log WHERE method = 'POST' AND status = 413")
expect_eq "the refusals are audited" 2 "$n"
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -H "Expect: 100-continue" --data-binary @"$TMP/big.json"
expect_problem "an announced oversized body is refused before 100 Continue" 413 body-too-large
http GET "/ops/audit?limit=5&limit=600&before=-1" "${AUTH[@]}"
expect_problem "a negative cursor is refused" 400 invalid-parameter
http GET "/ops/audit?limit=99999999999999999999" "${AUTH[@]}"
expect_problem "an overflowing limit is refused" 400 invalid-parameter
http GET "/ops/tokens/..%2F..%2Fetc" "${AUTH[@]}"
expect_problem "dot segments are just a jti" 404 not-found
http GET "/ops//audit" "${AUTH[@]}"
expect_problem "an empty segment matches nothing" 404 not-found
http GET /ops/tokens/a%00b "${AUTH[@]}"
expect_problem "an encoded NUL is a 404" 404 not-found

# --- TLS ---------------------------------------------------------------------------------
# GnuTLS's NORMAL priority negotiated TLS 1.0 and 1.1 (RFC 8996 retired them).
tls() { echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" "$1" -cipher 'DEFAULT:@SECLEVEL=0' 2>&1 | grep -o 'Cipher is .*'; }
expect_eq "TLS 1.0 is refused" "Cipher is (NONE)" "$(tls -tls1)"
expect_eq "TLS 1.1 is refused" "Cipher is (NONE)" "$(tls -tls1_1)"
expect "TLS 1.2 is served" grep -q 'Cipher is ECDHE' <<<"$(tls -tls1_2)"
out=$(curl -sS --max-time 5 "http://127.0.0.1:$PORT/healthz" 2>&1)
expect "plain HTTP on the TLS port is dropped" grep -q 'Empty reply' <<<"$out"
python3 -c 'import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(5)
s.sendall(b"\x16\x03\x01\xff\xff" + os.urandom(20000)); s.recv(100)' "$PORT" 2>/dev/null
http GET /healthz
expect_eq "garbage on the TLS port harms nothing" 200 "$STATUS"

# --- races on tokens ---------------------------------------------------------------------
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"race","scope":"audit:read"}'
rjti=$(jq -r .jti <<<"$BODY")
pids=()
for i in $(seq 1 20); do
	"${CURL[@]}" -o /dev/null -w '%{http_code}\n' -X DELETE "${AUTH[@]}" "$URL/ops/tokens/$rjti" \
		>>"$TMP/race" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "twenty concurrent revocations: exactly one 204" 1 "$(grep -c '^204$' "$TMP/race")"
expect_eq "the others are 404s" 19 "$(grep -c '^404$' "$TMP/race")"

# --- a lock held in PostgreSQL ------------------------------------------------------------
# A statement waiting on a lock held it and its HTTP worker forever (with
# every worker stuck, even /healthz and SIGTERM hung). It is cancelled now.
psql "$ORCHARD_DATABASE_URL" -qc "BEGIN; LOCK TABLE operator_tokens; SELECT pg_sleep(30)" >/dev/null 2>&1 &
lock=$!
sleep 0.5
http GET /ops/tokens/0000 "${AUTH[@]}" --max-time 8
expect_problem "a statement stuck behind a lock is cancelled: 503" 503 db-unavailable
psql "$ORCHARD_DATABASE_URL" -qAtc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
wait $lock
http GET /ops/tokens/0000 "${AUTH[@]}"
expect_problem "and the next request runs once the lock is gone" 404 not-found

# --- PostgreSQL dies under load ----------------------------------------------------------
load() { # load SECONDS: issues tokens in 4 loops (until $TMP/load.stop); one status per line
	local end=$((SECONDS + $1))
	for _ in 1 2 3 4; do
		while ((SECONDS < end)) && [[ ! -e "$TMP/load.stop" ]]; do
			"${CURL[@]}" -o /dev/null -w '%{http_code}\n' "${AUTH[@]}" "${JSON[@]}" \
				-d '{"subject":"load","scope":"audit:read"}' "$URL/ops/tokens" 2>/dev/null
		done &
	done
	wait
}
# The load ends a second after PostgreSQL is back, not at a fixed time: a
# restart under load on a busy machine took from 2.5 to over 4 s.
load 30 >"$TMP/load" &
lpid=$!
sleep 1
pg_stop >/dev/null 2>&1
sleep 1
pg_start >/dev/null 2>&1
sleep 1
touch "$TMP/load.stop"
wait $lpid
rm "$TMP/load.stop"
expect "under load with PostgreSQL stopped, every answer is a 201 or a 503" \
	bash -c "! grep -qv '^20[1]$\|^503$' '$TMP/load'"
expect "some requests were refused while it was down" grep -q '^503$' "$TMP/load"
expect_eq "the last ones succeeded again" 201 "$(tail -1 "$TMP/load")"
n=$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) FROM operator_tokens WHERE subject = 'load'")
expect_eq "every 201 has its token row, no more, no less" "$(grep -c '^201$' "$TMP/load")" "$n"
kill -0 "$OPID"
expect_eq "orchardd survived" 0 $?

# --- SIGTERM under load ---------------------------------------------------------------------
load 3 >"$TMP/load2" &
lpid=$!
sleep 1
orchardd_stop
expect_eq "SIGTERM under load exits cleanly (no leak or error under sanitizers)" 0 $?
wait $lpid
expect "and in-flight requests were answered or refused, never half-written" \
	bash -c "! grep -v '^201$\|^000$\|^503$' '$TMP/load2'"
n=$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) FROM operator_tokens WHERE subject = 'load'")
expect "rows match the 201s handed out" test "$n" -ge "$(($(grep -c '^201$' "$TMP/load") + $(grep -c '^201$' "$TMP/load2")))"
tap_done
