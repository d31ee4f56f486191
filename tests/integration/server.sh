#!/bin/bash
# orchardd against a real PostgreSQL over real HTTPS: routing, errors,
# operator auth, audit, metrics, migrations, a database outage, shutdown.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
ALL=$(token all)
AUTH=(-H "Authorization: Bearer $ALL")
JSON=(-H "Content-Type: application/json")

# --- health, metrics, request IDs ---------------------------------------
http GET /healthz
expect_eq "healthz answers 200" 200 "$STATUS"
rid=$(grep -i '^x-request-id:' <<<"$HEADERS" | cut -d' ' -f2)
expect "every response carries an X-Request-Id" test -n "$rid"
http GET /readyz
expect_eq "readyz is 200 with the database up and migrated" 200 "$STATUS"
http GET /metrics
expect "metrics count requests by route and status" grep -q 'orchard_http_requests_total{route="healthz",status="200"} 1' <<<"$BODY"
expect "metrics have latency histograms" grep -q 'orchard_http_request_duration_seconds_bucket{route="healthz",le="+Inf"}' <<<"$BODY"
expect "metrics show pool usage and build info" grep -q 'orchard_db_pool_connections{state="size"}' <<<"$BODY"
expect "metrics show build info" grep -q '^orchard_build_info{version=' <<<"$BODY"

# --- routing errors -------------------------------------------------------
http GET /no/such/thing
expect_problem "unknown route is a 404 problem" 404 not-found
http POST /healthz
expect_problem "wrong method is a 405 problem" 405 method-not-allowed
expect "405 names the allowed methods" grep -qi '^allow: GET' <<<"$HEADERS"
http GET "/$(head -c 3000 /dev/zero | tr '\0' a)"
expect_problem "an over-long URL is refused" 414 uri-too-long

# --- operator authentication -------------------------------------------------
http GET /ops/audit
expect_problem "no token: 401" 401 auth-missing
expect "401 asks for a bearer token" grep -qi '^www-authenticate: Bearer' <<<"$HEADERS"
http GET /ops/audit -H "Authorization: Bearer not.a.jwt"
expect_problem "garbage token: 401" 401 auth-invalid
rid=$(grep -i '^x-request-id:' <<<"$HEADERS" | cut -d' ' -f2)
expect "log lines carry the request ID" grep -q "\"request_id\":\"$rid\"" "$OLOG"
# A token signed by another orchardd's key: right shape, wrong signature.
mkdir -p "$TMP/other"
FORGED=$("$ORCHARDD" --data-dir "$TMP/other" token issue --scope all 2>/dev/null)
http GET /ops/audit -H "Authorization: Bearer $FORGED"
expect_problem "token signed by another key: 401" 401 auth-invalid
# alg "none" with our claims: must never pass.
claims=$(cut -d. -f2 <<<"$ALL")
NONE="$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d =).$claims."
http GET /ops/audit -H "Authorization: Bearer $NONE"
expect_problem "unsigned (alg none) token: 401" 401 auth-invalid
# Tampered claims, original signature.
sig=$(cut -d. -f3 <<<"$ALL")
evil=$(printf '{"iss":"orchardd","sub":"x","jti":"x","scope":"all","exp":9999999999}' | base64 -w0 | tr '+/' '-_' | tr -d =)
http GET /ops/audit -H "Authorization: Bearer $(cut -d. -f1 <<<"$ALL").$evil.$sig"
expect_problem "tampered claims: 401" 401 auth-invalid
EXPIRING=$(TTL=1s token all)
sleep 2
http GET /ops/audit -H "Authorization: Bearer $EXPIRING"
expect_problem "expired token: 401" 401 auth-expired
READER=$(token twins:read)
http GET /ops/audit -H "Authorization: Bearer $READER"
expect_problem "token without the scope: 403" 403 forbidden-scope
AUDITOR=$(token audit:read)
http GET /ops/audit -H "Authorization: Bearer $AUDITOR"
expect_eq "token with the scope: 200" 200 "$STATUS"
expect "a token is shown only once: never logged" bash -c "! grep -qF '$ALL' '$OLOG'"

# --- revocation ----------------------------------------------------------------
VICTIM=$(token audit:read)
vjti=$(token_jti "$VICTIM")
http GET /ops/audit -H "Authorization: Bearer $VICTIM"
expect_eq "token works before revocation" 200 "$STATUS"
"$ORCHARDD" --data-dir "$TMP/var" token revoke "$vjti" >/dev/null
for _ in $(seq 1 40); do
	http GET /ops/audit -H "Authorization: Bearer $VICTIM"
	[[ "$STATUS" == 401 ]] && break
	sleep 0.05
done
expect_problem "revoked token (even cached): 401" 401 auth-revoked
expect_fail "revoking twice fails" "$ORCHARDD" --data-dir "$TMP/var" token revoke "$vjti"
http GET "/ops/tokens/$vjti" "${AUTH[@]}"
expect "token metadata shows the revocation" test "$(jq -r '.revoked_at != null' <<<"$BODY")" = true
http GET /ops/tokens/0000 "${AUTH[@]}"
expect_problem "unknown jti: 404" 404 not-found

# --- JSON bodies -------------------------------------------------------------------
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"ci","scope":["twins:read"],"ttl":"10m"}'
expect_eq "POST /ops/tokens issues a token" 201 "$STATUS"
NEW=$(jq -r .token <<<"$BODY")
http GET /ops/audit -H "Authorization: Bearer $NEW"
expect_problem "an issued token has only its scopes" 403 forbidden-scope
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"ci","scope":'
expect_problem "malformed JSON: 400" 400 malformed-json
http POST /ops/tokens "${AUTH[@]}" -H "Content-Type: text/plain" -d '{}'
expect_problem "wrong content type: 415" 415 unsupported-media-type
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d "$(printf '%.0s[' $(seq 1 100))$(printf '%.0s]' $(seq 1 100))"
expect_problem "deep nesting: 400" 400 json-too-deep
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/big.json"
expect_problem "body over 1 MiB: 413" 413 body-too-large
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"ci","scope":["root"]}'
expect_problem "unknown scope: 400" 400 invalid-field
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"ci","scope":"all","ttl":"100d"}'
expect_problem "ttl over 90 days: 400" 400 invalid-field
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"a","subject":"b","scope":"all"}'
expect_problem "duplicate keys: 400" 400 malformed-json
MINTER=$(token tokens:write)
http POST /ops/tokens -H "Authorization: Bearer $MINTER" "${JSON[@]}" -d '{"subject":"x","scope":"all"}'
expect_problem "no token may mint a stronger one" 403 forbidden-scope

# --- audit trail -------------------------------------------------------------
http GET "/ops/audit?limit=2" "${AUTH[@]}"
expect_eq "audit lists the newest entries" 2 "$(jq '.items | length' <<<"$BODY")"
expect_eq "the newest entry is the refused mint, with its status" "POST /ops/tokens 403" "$(jq -r '.items[0] | "\(.method) \(.path) \(.status)"' <<<"$BODY")"
next=$(jq -r .next <<<"$BODY")
http GET "$next" "${AUTH[@]}"
expect "audit pages with a cursor" test "$(jq '.items[0].id' <<<"$BODY")" -lt "$(jq '.items[0].id' <<<"$BODY")1"
n=$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) FROM audit_log WHERE method = 'POST'")
expect_eq "every mutating request was audited, failures too" 9 "$n"
http GET "/ops/audit?limit=0" "${AUTH[@]}"
expect_problem "bad limit: 400" 400 invalid-parameter
http GET "/ops/audit?before=abc" "${AUTH[@]}"
expect_problem "bad cursor: 400" 400 invalid-parameter

# --- PostgreSQL goes away and comes back -------------------------------------
pg_stop
http GET "/ops/tokens/$vjti" "${AUTH[@]}"
expect_problem "database down: 503" 503 db-unavailable
expect "503 says when to retry" grep -qi '^retry-after:' <<<"$HEADERS"
http GET /readyz
expect_eq "readyz is 503 while the database is down" 503 "$STATUS"
http GET /healthz
expect_eq "healthz stays 200 (alive, not ready)" 200 "$STATUS"
pg_start
for _ in $(seq 1 50); do
	http GET "/ops/tokens/$vjti" "${AUTH[@]}"
	[[ "$STATUS" == 200 ]] && break
	sleep 0.1
done
expect_eq "orchardd recovers by itself when the database is back" 200 "$STATUS"
http GET /readyz
expect_eq "readyz is 200 again" 200 "$STATUS"

# --- keep-alive and shutdown -----------------------------------------------------
out=$("${CURL[@]}" -v "$URL/healthz" "$URL/healthz" 2>&1 >/dev/null)
expect "two requests share one keep-alive connection" grep -q 'Re-using existing connection' <<<"$out"
# An upload in flight when SIGTERM arrives still gets its answer.
{ printf '{"subject":"slow","scope":"audit:read"'; head -c 6000 /dev/zero | tr '\0' ' '; printf '}'; } >"$TMP/slow.json"
"${CURL[@]}" -o /dev/null -w '%{http_code}' --limit-rate 3k "${AUTH[@]}" "${JSON[@]}" \
	--data-binary @"$TMP/slow.json" "$URL/ops/tokens" >"$TMP/slow.status" &
slow=$!
sleep 0.7
orchardd_stop
expect_eq "SIGTERM stops orchardd cleanly" 0 $?
wait $slow
expect_eq "a request in flight at SIGTERM is finished" 201 "$(cat "$TMP/slow.status")"
expect "shutdown is logged" grep -q '"msg":"shutting down"' "$OLOG"

# --- migrations ----------------------------------------------------------------
pg_admin "CREATE DATABASE twins OWNER orchard"
URL2="host=$PGDIR/run dbname=twins user=orchard"
for i in 1 2 3; do "$ORCHARDD" --database-url "$URL2" migrate 2>"$TMP/m$i.log" & done
wait_ok=0
for j in $(jobs -p); do wait "$j" || wait_ok=1; done
expect_eq "three instances migrating at once all succeed" 0 "$wait_ok"
expect_eq "each migration applied exactly once" "$(ls db/migrations/*.sql | wc -l)" \
	"$(psql "$URL2" -Atc 'SELECT count(*) FROM schema_migrations')"
psql "$URL2" -qc "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"
expect_fail "an applied migration that changed stops orchardd" "$ORCHARDD" --database-url "$URL2" migrate
expect "and says why" grep -q 'applied migration was changed' <("$ORCHARDD" --database-url "$URL2" migrate 2>&1)

# --- configuration -------------------------------------------------------------
help=$("$ORCHARDD" --help)
for v in ORCHARD_LISTEN ORCHARD_DATABASE_URL ORCHARD_DATA_DIR ORCHARD_TLS_CERT ORCHARD_TLS_KEY ORCHARD_BODY_LIMIT; do
	expect "--help documents $v" grep -q "$v" <<<"$help"
done
expect_fail "a bad number is refused" "$ORCHARDD" --body-limit=lots --help
expect_fail "a bad listen address is refused" "$ORCHARDD" --data-dir "$TMP/var" --listen nowhere
"$ORCHARDD" --data-dir "$TMP/var" --listen 127.0.0.1:0,127.0.0.1:0 2>"$TMP/multi.log" &
multi=$!
for _ in $(seq 1 100); do
	[[ $(grep -c '"msg":"listening"' "$TMP/multi.log") == 2 ]] && break
	sleep 0.05
done
n=0
for p in $(listen_ports "$TMP/multi.log"); do
	"${CURL[@]}" -o /dev/null "https://127.0.0.1:$p/healthz" && n=$((n + 1))
done
expect_eq "several listen addresses each serve" 2 "$n"
kill -TERM $multi
wait $multi
printf 'body-limit = 100\nlog-level = debug\n' >"$TMP/orchard.conf"
ORCHARD_BODY_LIMIT=50 orchardd_start --config "$TMP/orchard.conf" --body-limit=120
ALL=$(token all)
http POST /ops/tokens -H "Authorization: Bearer $ALL" "${JSON[@]}" -d "{\"subject\":\"$(head -c 70 /dev/zero | tr '\0' a)\",\"scope\":\"all\"}"
expect_eq "a flag beats the environment and the file" 201 "$STATUS"
orchardd_stop
ORCHARD_BODY_LIMIT=50 orchardd_start --config "$TMP/orchard.conf"
http POST /ops/tokens -H "Authorization: Bearer $ALL" "${JSON[@]}" -d "{\"subject\":\"$(head -c 70 /dev/zero | tr '\0' a)\",\"scope\":\"all\"}"
expect_problem "the environment beats the file" 413 body-too-large
orchardd_stop

# --- two instances creating the development PKI at once agree on it -------------
rm -rf "$TMP/var"
for i in 1 2; do "$ORCHARDD" --data-dir "$TMP/var" --listen 127.0.0.1:0 2>"$TMP/pki$i.log" & done
ports=()
for i in 1 2; do
	# up to 20 s: both make keys and run migrations at once, on a loaded CI
	for _ in $(seq 1 400); do
		p=$(listen_ports "$TMP/pki$i.log")
		[[ -n "$p" ]] && break
		sleep 0.05
	done
	ports+=("$p")
done
n=0
for p in "${ports[@]}"; do "${CURL[@]}" -o /dev/null "https://127.0.0.1:$p/healthz" && n=$((n + 1)); done
expect_eq "two fresh instances started at once share one development PKI" 2 "$n"
expect_eq "only one of them created it" 1 "$(cat "$TMP"/pki[12].log | grep -c 'created the development PKI')"
kill $(jobs -p) 2>/dev/null
wait
ALL=$(token all)
AUTH=(-H "Authorization: Bearer $ALL")

# --- libmicrohttpd's pool per connection (--conn-memory, 4 KiB by default) ----
"$ORCHARDD" --data-dir "$TMP/var" --listen 127.0.0.1:0 --conn-memory 4000 2>"$TMP/cm.log"
expect_eq "a --conn-memory below 4 KiB is refused at start" 2 "$?"
expect_eq "... saying why" 1 "$(grep -c 'conn-memory is 4096 to 1048576' "$TMP/cm.log")"
orchardd_start
PAD=$(head -c 2500 /dev/zero | tr '\0' a)
out=$("${CURL[@]}" -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' -H "X-Pad: $PAD" "${AUTH[@]}" \
	"$URL/ops/audit?limit=1" "$URL/ops/audit?limit=1" "$URL/ops/audit?limit=1")
expect_eq "headers of 2.5 KB fit the default pool, three requests on one connection" \
	"200 1|200 0|200 0" "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
http GET /healthz -H "X-Pad: $PAD$PAD"
expect_eq "headers beyond the pool are libmicrohttpd's 431" 431 "$STATUS"
orchardd_stop

# --- leaks: the same traffic under valgrind (plain build only) -----------------
if [[ "$BUILD" == build ]]; then
	VALGRIND=1 orchardd_start
	for path in /healthz /readyz /metrics /nope /ops/audit; do http GET $path "${AUTH[@]}"; done
	http GET /ops/audit -H "Authorization: Bearer $FORGED"
	http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"v","scope":"all"}'
	http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":'
	http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/big.json"
	http DELETE "/ops/tokens/$(jq -r .jti <<<"$BODY")" "${AUTH[@]}"
	orchardd_stop
	rc=$?
	expect_eq "no leaks or memory errors under valgrind" 0 "$rc"
	[[ $rc != 0 ]] && head -50 "$TMP/valgrind.log" >&2
fi
tap_done
