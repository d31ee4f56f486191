#!/bin/bash
# Error replies end to end: a refused JSON field is named by its JSON
# pointer, every error reply logs whose fault it was at the handler's
# file:line, and /metrics counts them.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
AUTH=(-H "Authorization: Bearer $(token all)")
JSON=(-H "Content-Type: application/json")

# pointer_is LABEL BODY POINTER: a 400 invalid-field naming POINTER
pointer_is() {
	http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d "$2"
	expect_problem "$1: 400 invalid-field" 400 invalid-field
	expect_eq "$1: names $3" "$3" "$(jq -r .pointer <<<"$BODY")"
}
pointer_is "no subject" '{"scope":"all"}' /subject
pointer_is "a subject with a newline" '{"subject":"a\nb","scope":"all"}' /subject
pointer_is "an unknown scope in a list" '{"subject":"ci","scope":["audit:read","root"]}' /scope
pointer_is "a ttl of the wrong type" '{"subject":"ci","scope":"all","ttl":true}' /ttl
pointer_is "a body that is not an object" '["subject"]' ""
http POST /ops/tokens "${AUTH[@]}" "${JSON[@]}" -d '{"subject":"ci","scope":"audit:read","ttl":null}'
expect_eq "a null optional ttl takes the default" 201 "$STATUS"
expect "an issued token is never cached" grep -qi '^cache-control: no-store' <<<"$HEADERS"

# Whose fault: a refusal is bad input, logged at the handler's line.
expect "a refusal is logged as bad input at its file:line" \
	grep -q '"level":"warn","msg":"refused".*"where":"server/h_ops_tokens.c:[0-9]*"' "$OLOG"
http GET /metrics
bad=$(grep -o 'orchard_log_faults_total{kind="bad_input"} [0-9]*' <<<"$BODY" | cut -d' ' -f2)
expect "metrics count bad input ($bad)" test "${bad:-0}" -ge 5
expect "metrics count our bugs apart" grep -q 'orchard_log_faults_total{kind="bug"} 0' <<<"$BODY"

# A flood of bad input is counted in full but logged sampled.
for i in $(seq 1 150); do printf 'url = "%s/nowhere/%d"\noutput = "/dev/null"\n' "$URL" "$i"; done >"$TMP/flood"
"${CURL[@]}" -K "$TMP/flood"
http GET /metrics
sup=$(grep -o 'orchard_log_faults_total{kind="bad_input_suppressed"} [0-9]*' <<<"$BODY" | cut -d' ' -f2)
expect "a flood of 404s is sampled in the log" test "${sup:-0}" -ge 80
lines=$(grep -c '"msg":"refused"' "$OLOG")
expect "the log holds far fewer lines than refusals ($lines)" test "$lines" -lt 100
tap_done
