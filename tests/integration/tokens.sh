#!/bin/bash
# Operator token lifecycle against a real PostgreSQL: tokens minted by
# tokens (capped expiry, issuer, transitive revocation, audited with the
# child's jti), audit rows by route and decoded parameters, atomic issue
# under kill -9, revocations under clock skew, subjects, --jwt-key, caching.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
JSON=(-H "Content-Type: application/json")
psql_q() { psql "$ORCHARD_DATABASE_URL" -Atc "$1"; }
jwt_exp() {
	local c
	c=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while ((${#c} % 4)); do c+="="; done
	base64 -d <<<"$c" | jq -r .exp
}

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
ALL=$(token all)
AUTH=(-H "Authorization: Bearer $ALL")

# --- lineage: a 2-minute tokens:write token mints a 90-day one ---------------
PARENT=$(TTL=2m token tokens:write tokens:read)
pjti=$(token_jti "$PARENT")
http POST /ops/tokens -H "Authorization: Bearer $PARENT" "${JSON[@]}" \
	-d '{"subject":"admin","scope":["tokens:write","tokens:read"],"ttl":"90d"}'
expect_eq "a token mints a child" 201 "$STATUS"
expect "the response carrying a token is never cached" grep -qi '^cache-control: no-store' <<<"$HEADERS"
CHILD=$(jq -r .token <<<"$BODY")
cjti=$(jq -r .jti <<<"$BODY")
expect_eq "the response names the issuer" "$pjti" "$(jq -r .issuer <<<"$BODY")"
expect "the child's exp is capped at its parent's" test "$(jwt_exp "$CHILD")" -le "$(jwt_exp "$PARENT")"
expect_eq "the row records the issuer" "$pjti" "$(psql_q "SELECT issuer FROM operator_tokens WHERE jti = '$cjti'")"
http GET "/ops/tokens/$cjti" "${AUTH[@]}"
expect_eq "GET shows the issuer" "$pjti" "$(jq -r .issuer <<<"$BODY")"
expect_eq "the audit row names the child's jti" "POST /ops/tokens $pjti 201" \
	"$(psql_q "SELECT method || ' ' || route || ' ' || jti || ' ' || status FROM audit_log WHERE target = '$cjti'")"
expect_eq "and only one audit row was written for the request" 1 \
	"$(psql_q "SELECT count(*) FROM audit_log WHERE request_id = (SELECT request_id FROM audit_log WHERE target = '$cjti')")"
http POST /ops/tokens -H "Authorization: Bearer $CHILD" "${JSON[@]}" -d '{"subject":"grandchild","scope":"tokens:read"}'
GRAND=$(jq -r .token <<<"$BODY")
gjti=$(jq -r .jti <<<"$BODY")
expect_eq "the child mints a grandchild" 201 "$STATUS"
"$ORCHARDD" --data-dir "$TMP/var" token revoke "$pjti" >"$TMP/revoke.out"
expect_eq "revoking the parent revokes its descendants" "revoked $pjti and 2 token(s) it minted" "$(cat "$TMP/revoke.out")"
for t in "$CHILD" "$GRAND"; do
	for _ in $(seq 1 40); do
		http GET "/ops/tokens/$gjti" -H "Authorization: Bearer $t"
		[[ "$STATUS" == 401 ]] && break
		sleep 0.05
	done
	expect_problem "a descendant of a revoked token is refused" 401 auth-revoked
done
expect_eq "the CLI's tokens have no issuer" "" "$(psql_q "SELECT issuer FROM operator_tokens WHERE jti = '$(token_jti "$ALL")'")"

# --- the audit row records the route and the decoded parameters --------------
VICTIM=$(token audit:read)
vjti=$(token_jti "$VICTIM")
enc=$(od -An -tx1 <<<"$vjti" | tr -d ' \n' | sed 's/0a$//; s/../%&/g')
http DELETE "/OPS/TOKENS/$enc" "${AUTH[@]}"
expect_eq "an encoded, upper-case path revokes the token" 204 "$STATUS"
expect_eq "its audit row is found by route and decoded jti" 1 \
	"$(psql_q "SELECT count(*) FROM audit_log WHERE route = '/ops/tokens/{jti}' AND params->>'jti' = '$vjti' AND method = 'DELETE'")"
http GET "/ops/audit?limit=1" "${AUTH[@]}"
expect_eq "GET /ops/audit shows route and params" "/ops/tokens/{jti} $vjti" "$(jq -r '.items[0] | "\(.route) \(.params.jti)"' <<<"$BODY")"

# --- subjects ------------------------------------------------------------------
for s in 'a\u0007b' 'line\nbreak' 'c1\u0085' 'del\u007f'; do
	http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d "{\"subject\":\"$s\",\"scope\":\"audit:read\"}"
	expect_problem "subject with a control character ($s): 400" 400 invalid-field
done
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"Zoë ✓","scope":"audit:read"}'
expect_eq "a subject in any script is fine" 201 "$STATUS"
expect_fail "the CLI refuses a control character" "$ORCHARDD" --data-dir "$TMP/var" token issue --scope all --subject "$(printf 'a\tb')"
expect_fail "the CLI refuses bytes that are not UTF-8" "$ORCHARDD" --data-dir "$TMP/var" token issue --scope all --subject "$(printf 'a\xffb')"

# --- an explicit --jwt-key must exist ------------------------------------------
expect_fail "token issue with a missing --jwt-key fails" "$ORCHARDD" --data-dir "$TMP/var" --jwt-key "$TMP/nokey.pem" token issue --scope all
expect_fail "serve with a missing --jwt-key fails" timeout 10 "$ORCHARDD" --data-dir "$TMP/var" --listen 127.0.0.1:0 --jwt-key "$TMP/nokey.pem"
expect "and no key was created there" test ! -e "$TMP/nokey.pem"
expect "an existing --jwt-key works" "$ORCHARDD" --data-dir "$TMP/var" --jwt-key "$TMP/var/keys/operator-jwt.pem" token issue --scope all

# --- kill -9 in the middle of a burst of issues: token and audit row together ---
MINTER=$(token tokens:write audit:read)
burst() {
	for _ in $(seq 1 400); do
		"${CURL[@]}" -o /dev/null -H "Authorization: Bearer $MINTER" "${JSON[@]}" \
			-d '{"subject":"burst","scope":"audit:read"}' "$URL/ops/tokens" 2>/dev/null || return
	done
}
burst & b1=$!
burst & b2=$!
sleep 2
kill -9 "$OPID"
wait "$OPID" 2>/dev/null
OPID=
wait $b1 $b2
n=$(psql_q "SELECT count(*) FROM operator_tokens WHERE subject = 'burst'")
expect "the burst issued tokens before the kill ($n)" test "$n" -gt 0
expect_eq "every issued token has its audit row" 0 \
	"$(psql_q "SELECT count(*) FROM operator_tokens t WHERE subject = 'burst' AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target = t.jti)")"

# --- revocations are pruned by orchardd's clock, not the database's -------------
# orchardd's host clock runs 60 s behind PostgreSQL's: a revoked token that
# orchardd still thinks unexpired must stay revoked.
cc -shared -fPIC -o "$TMP/clockshift.so" tests/lib/clockshift.c -ldl
SHIFT=(env CLOCKSHIFT_SECONDS=-60 LD_PRELOAD="$TMP/clockshift.so" ASAN_OPTIONS=verify_asan_link_order=0)
SKEWED=$("${SHIFT[@]}" "$ORCHARDD" --data-dir "$TMP/var" token issue --scope audit:read --ttl 30s 2>/dev/null)
sjti=$(token_jti "$SKEWED")
expect_eq "the token has expired by the database's clock" t \
	"$(psql_q "SELECT expires_at < now() FROM operator_tokens WHERE jti = '$sjti'")"
"$ORCHARDD" --data-dir "$TMP/var" token revoke "$sjti" >/dev/null
CLOCKSHIFT_SECONDS=-60 LD_PRELOAD="$TMP/clockshift.so" ASAN_OPTIONS=verify_asan_link_order=0 orchardd_start
http GET /ops/audit -H "Authorization: Bearer $SKEWED"
expect_problem "with its host clock 60 s behind, a revoked token stays refused" 401 auth-revoked
orchardd_stop
tap_done
