#!/bin/bash
# The request pipeline's seams over the wire: authentication kinds checked
# before the body, per-route body caps, the process-wide body budget.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/orchardd.sh"
trap fixture_cleanup EXIT
JSON=(-H 'Content-Type: application/json')

pg_start || exit 1
orchardd_start --body-budget 40000 || exit 1
ALL=$(token all)
AUTH=(-H "Authorization: Bearer $ALL")

# --- authentication runs on the headers, before the body ------------------------
head -c 12000 /dev/zero | tr '\0' x >"$TMP/big"
out=$("${CURL[@]}" -v -X POST "${JSON[@]}" -H 'Expect: 100-continue' --data-binary @"$TMP/big" \
	-o "$TMP/body" -w '%{http_code}' "$URL/ops/tokens" 2>"$TMP/trace")
expect_eq "an unauthenticated upload is refused" 401 "$out"
expect_fail "before 100 Continue: the body is never asked for" grep -q '100 Continue' "$TMP/trace"
expect "the refusal names the Bearer scheme" grep -qi '^< WWW-Authenticate: Bearer' "$TMP/trace"
expect "and closes the connection" grep -qi '^< Connection: close' "$TMP/trace"
READ=$(token audit:read)
out=$("${CURL[@]}" -v -X POST "${JSON[@]}" -H "Authorization: Bearer $READ" -H 'Expect: 100-continue' \
	--data-binary @"$TMP/big" -o "$TMP/body" -w '%{http_code}' "$URL/ops/tokens" 2>"$TMP/trace")
expect_eq "a token without the scope is refused before the body too" 403 "$out"
expect_fail "with no WWW-Authenticate on a 403" grep -qi '^< WWW-Authenticate' "$TMP/trace"
http GET /healthz -H "Authorization: Bearer junk"
expect_eq "public routes ignore credentials" 200 "$STATUS"
out=$("${CURL[@]}" -v -o /dev/null "$URL/nowhere" "$URL/healthz" 2>&1)
expect "a bodyless 404 keeps the connection alive" grep -q 'Re-using existing connection' <<<"$out"
http GET /ops/audit
expect_problem "no token: 401" 401 auth-missing

# --- operator tokens: forged and junk ones are cheap refusals, counted ----------
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
hdr=$(cut -d. -f1 <<<"$ALL")
claims=$(cut -d. -f2 <<<"$ALL")
sig=$(cut -d. -f3 <<<"$ALL")
forged_claims=$(printf '{"iss":"orchardd","sub":"eve","jti":"x","scope":"all","exp":9999999999}' | b64url)
none_hdr=$(printf '{"alg":"none","typ":"JWT"}' | b64url)
other=$("$ORCHARDD" --data-dir "$TMP/other" --database-url "$ORCHARD_DATABASE_URL" token issue --scope all 2>/dev/null)
n=0
for t in "$hdr.$forged_claims.$sig" "$none_hdr.$claims." "$none_hdr.$claims.$sig" "$hdr.$claims" \
	"$hdr.$claims.${sig:0:40}" "$other" "junk" "$hdr.$claims.$sig.$sig" "$(head -c 3000 /dev/zero | tr '\0' a)"; do
	http GET /ops/audit -H "Authorization: Bearer $t"
	[[ "$STATUS" == 401 ]] && n=$((n + 1))
done
expect_eq "forged, alg-none, cut, foreign-key and junk tokens are all refused" 9 "$n"
m=$("${CURL[@]}" "$URL/metrics" | grep '^orchard_auth_refusals_total{type="auth-invalid"}' | cut -d' ' -f2)
expect_eq "each refusal is counted by type" 9 "$m"
http GET /ops/audit -H "Authorization: Bearer $ALL"
expect_eq "the real token still works" 200 "$STATUS"

# --- per-route body caps ------------------------------------------------------
head -c 20000 /dev/zero | tr '\0' ' ' >"$TMP/pad"
{ printf '{"subject":"x","scope":"audit:read"'; cat "$TMP/pad"; printf '}'; } >"$TMP/long.json"
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" --data-binary @"$TMP/long.json"
expect_problem "POST /ops/tokens takes at most 16 KiB" 413 body-too-large
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/long.json"
expect_problem "chunked, without a length, too" 413 body-too-large
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"small","scope":"audit:read"}'
expect_eq "a small body passes" 201 "$STATUS"

# --- the body budget: bytes buffered by all requests together --------------------
{ printf '{"subject":"slow","scope":"audit:read"'; head -c 15000 /dev/zero | tr '\0' ' '; printf '}'; } >"$TMP/slow.json"
pids=()
for i in 1 2 3 4; do
	"${CURL[@]}" -o /dev/null -w '%{http_code}\n' --limit-rate 5k "${AUTH[@]}" "${JSON[@]}" \
		-H 'Transfer-Encoding: chunked' --data-binary @"$TMP/slow.json" "$URL/ops/tokens" >"$TMP/code.$i" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
codes=$(cat "$TMP"/code.* | sort | uniq -c | tr -s ' ' | tr '\n' ';')
expect "past the budget, uploads get 503 and the rest succeed ($codes)" \
	grep -qE '^ ?[0-9]+ 201; ?[0-9]+ 503;$' <<<"$codes"
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"after","scope":"audit:read"}'
expect_eq "the budget is given back when requests end" 201 "$STATUS"
metric=$("${CURL[@]}" "$URL/metrics" | grep '^orchard_body_bytes_in_flight ')
expect_eq "no body bytes are left held" "orchard_body_bytes_in_flight 0" "$metric"

orchardd_stop
expect_eq "orchardd stops cleanly" 0 $?
tap_done
