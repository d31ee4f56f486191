#!/bin/bash
# The CA end to end against a real PostgreSQL: `orchardd cert issue` goes
# through pki_issue() and records the row; the operator API lists, gets and
# revokes; the CRL from /pki/crl makes `openssl verify -crl_check` refuse
# the revoked leaf while a live one verifies against var/pki/root.pem; every
# bad input is refused with its problem type and changes nothing.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
trap fixture_cleanup EXIT
JSON=(-H "Content-Type: application/json")
psql_q() { psql "$ORCHARD_DATABASE_URL" -Atc "$1"; }
PKI="$TMP/var/pki"

pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
orchardd_start || { tap_nok "orchardd starts"; tap_done; exit 1; }
ADMIN=(-H "Authorization: Bearer $(token pki:admin)")

expect_eq "the CA key is mode 0600" 600 "$(stat -c %a "$PKI/ca.key")"
expect "the intermediate chains to the development root" openssl verify -CAfile "$PKI/root.pem" "$PKI/ca.pem"
expect "the TLS root is the CA's root (curl --cacert root.pem works)" "${CURL[@]}" -o /dev/null "$URL/healthz"

# csr NAME TYPE: a key and CSR under $TMP (TYPE: an openssl genpkey algorithm spec)
csr() {
	openssl genpkey $2 -out "$TMP/$1.key" 2>/dev/null &&
		openssl req -new -key "$TMP/$1.key" -subj "/CN=ignored" -out "$TMP/$1.csr" 2>/dev/null
}
cert_issue() { "$ORCHARDD" --data-dir "$TMP/var" cert issue "$@" 2>"$TMP/issue.err"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | awk '{printf "%32s", tolower($0)}' | tr ' ' 0; }

# --- issue through the CLI ----------------------------------------------------
csr live "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
csr dead "-algorithm ED25519"
expect "cert issue: a P-256 leaf" cert_issue --csr "$TMP/live.csr" --profile tls-server \
	--san dns:live.example --san ip:192.0.2.1 --out "$TMP/live.pem"
expect "cert issue: an Ed25519 client leaf" cert_issue --csr "$TMP/dead.csr" --profile device-client \
	--san dns:dead.example --out "$TMP/dead.pem"
LIVE=$(serial_of "$TMP/live.pem")
DEAD=$(serial_of "$TMP/dead.pem")
expect "the leaf verifies against root.pem with the intermediate" \
	openssl verify -CAfile "$PKI/root.pem" -untrusted "$TMP/live.pem" "$TMP/live.pem"
expect "it names the SANs given, not the CSR's CN" \
	grep -q "DNS:live.example, IP Address:192.0.2.1" <(openssl x509 -in "$TMP/live.pem" -noout -ext subjectAltName)
expect_eq "each issue recorded one row" 2 "$(psql_q "SELECT count(*) FROM certificates")"

# --- list, filters, pages, get ------------------------------------------------
http GET /pki/certificates "${ADMIN[@]}"
expect_eq "list: 200" 200 "$STATUS"
expect_eq "list: both, oldest first" "$LIVE $DEAD" "$(jq -r '[.items[].serial] | join(" ")' <<<"$BODY")"
expect_eq "list: key types" "p256 ed25519" "$(jq -r '[.items[].key_type] | join(" ")' <<<"$BODY")"
http GET "/pki/certificates?profile=device-client" "${ADMIN[@]}"
expect_eq "filter by profile" "$DEAD" "$(jq -r '[.items[].serial] | join(" ")' <<<"$BODY")"
http GET "/pki/certificates?san=live.example" "${ADMIN[@]}"
expect_eq "filter by SAN" "$LIVE" "$(jq -r '[.items[].serial] | join(" ")' <<<"$BODY")"
http GET "/pki/certificates?limit=1" "${ADMIN[@]}"
NEXT=$(jq -r .next_after <<<"$BODY")
expect_eq "a full page gives a cursor" "$LIVE" "$(jq -r '.items[0].serial' <<<"$BODY")"
http GET "/pki/certificates?limit=1&after=$NEXT" "${ADMIN[@]}"
expect_eq "the next page continues after it" "$DEAD" "$(jq -r '.items[0].serial' <<<"$BODY")"
http GET "/pki/certificates/$LIVE" "${ADMIN[@]}"
expect_eq "get: 200, valid" "200 valid tls-server" "$STATUS $(jq -r '.status + " " + .profile' <<<"$BODY")"
jq -r .pem <<<"$BODY" >"$TMP/got.pem"
expect_eq "get: the PEM is the leaf" "$(openssl x509 -in "$TMP/live.pem" -outform DER | sha256sum)" \
	"$(openssl x509 -in "$TMP/got.pem" -outform DER | sha256sum)"

# --- revoke, CRL, openssl verify -crl_check ---------------------------------------
# The CRL is public, as /attestation/crl is: relying parties fetch it without a token.
http GET /pki/crl 2>/dev/null
expect_eq "the CRL needs no token: 200" 200 "$STATUS"
expect_eq "an empty CRL first" 0 "$(openssl crl -inform DER -noout -text -in "$TMP/body" | grep -c "Serial Number")"
http POST "/pki/certificates/$DEAD/revoke" "${ADMIN[@]}" "${JSON[@]}" -d '{"reason":"keyCompromise"}'
expect_eq "revoke: 204" 204 "$STATUS"
expect_eq "the row records reason 1" "1" "$(psql_q "SELECT revocation_reason FROM certificates WHERE serial = '$DEAD' AND revoked_at IS NOT NULL")"
http POST "/pki/certificates/$DEAD/revoke" "${ADMIN[@]}" "${JSON[@]}" -d '{}'
expect_problem "revoking twice is a conflict" 409 already-revoked
http GET "/pki/certificates?status=revoked" "${ADMIN[@]}"
expect_eq "status=revoked lists it, with its reason" "$DEAD keyCompromise" "$(jq -r '.items[] | .serial + " " + .revocation_reason' <<<"$BODY")"
# The revocation's NOTIFY makes the cached CRL stale; it arrives after commit.
for _ in $(seq 1 50); do
	http GET /pki/crl 2>/dev/null
	openssl crl -inform DER -in "$TMP/body" -out "$TMP/crl.pem" 2>/dev/null
	grep -qi "$DEAD" <(openssl crl -in "$TMP/crl.pem" -noout -text | tr -d ' :' | tr A-F a-f) && break
	sleep 0.1
done
expect_eq "the CRL is served as application/pkix-crl" 1 "$(grep -ci '^content-type: application/pkix-crl' <<<"$HEADERS")"
expect "the CRL is signed by the intermediate" openssl crl -in "$TMP/crl.pem" -CAfile "$PKI/ca.pem" -noout
http GET /pki/chain "${ADMIN[@]}"
echo "$BODY" >"$TMP/chain.pem"
expect_eq "the chain is intermediate then root" 2 "$(grep -c 'BEGIN CERTIFICATE' "$TMP/chain.pem")"
expect "openssl verify -crl_check: the live leaf verifies" \
	openssl verify -crl_check -CAfile "$PKI/root.pem" -untrusted "$TMP/chain.pem" -CRLfile "$TMP/crl.pem" "$TMP/live.pem"
openssl verify -crl_check -CAfile "$PKI/root.pem" -untrusted "$TMP/chain.pem" -CRLfile "$TMP/crl.pem" "$TMP/dead.pem" >"$TMP/v.out" 2>&1
expect "openssl verify -crl_check: the revoked leaf is refused" grep -q "certificate revoked" "$TMP/v.out"

# --- CRL Distribution Points: a relying party finds the CRL by itself ------------
expect_eq "without --crl-base-url a leaf names no CRL" "" \
	"$(openssl x509 -in "$TMP/live.pem" -noout -ext crlDistributionPoints 2>/dev/null)"
# A plain-http mirror of /pki/crl (a reverse proxy's job in production):
# openssl's -crl_download fetches only http.
mkdir -p "$TMP/www/pki"
http GET /pki/crl 2>/dev/null
cp "$TMP/body" "$TMP/www/pki/crl"
python3 -c 'import http.server, functools, sys
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1]))
open(sys.argv[1] + "/port", "w").write(str(s.server_address[1])); s.serve_forever()' "$TMP/www" 2>/dev/null &
MIRROR=$!
trap 'kill $MIRROR 2>/dev/null; fixture_cleanup' EXIT
for _ in $(seq 100); do [[ -s $TMP/www/port ]] && break; sleep 0.05; done
CRL_BASE="http://127.0.0.1:$(cat "$TMP/www/port")/"
csr cdp "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
expect "cert issue --crl-base-url: a leaf" "$ORCHARDD" --data-dir "$TMP/var" --crl-base-url "$CRL_BASE" \
	cert issue --csr "$TMP/cdp.csr" --profile tls-server --san dns:cdp.example --out "$TMP/cdp.pem"
expect "it names BASE/pki/crl (one slash)" grep -q "URI:${CRL_BASE}pki/crl$" \
	<(openssl x509 -in "$TMP/cdp.pem" -noout -ext crlDistributionPoints)
expect "openssl verify -crl_check -crl_download: it verifies with the CRL it points at" \
	openssl verify -crl_check -crl_download -CAfile "$PKI/root.pem" -untrusted "$TMP/chain.pem" "$TMP/cdp.pem"
http POST "/pki/certificates/$(serial_of "$TMP/cdp.pem")/revoke" "${ADMIN[@]}" "${JSON[@]}" -d '{}'
for _ in $(seq 1 50); do
	http GET /pki/crl 2>/dev/null
	grep -qi "$(serial_of "$TMP/cdp.pem")" <(openssl crl -inform DER -in "$TMP/body" -noout -text | tr -d ' :' | tr A-F a-f) && break
	sleep 0.1
done
cp "$TMP/body" "$TMP/www/pki/crl"
openssl verify -crl_check -crl_download -CAfile "$PKI/root.pem" -untrusted "$TMP/chain.pem" "$TMP/cdp.pem" >"$TMP/v.out" 2>&1
expect "... and once revoked, the downloaded CRL refuses it" grep -q "certificate revoked" "$TMP/v.out"
for bad in ftp://crl.example "http://crl.example/a b" http://; do
	expect_fail "--crl-base-url $bad is refused" "$ORCHARDD" --data-dir "$TMP/var" --crl-base-url "$bad" \
		cert issue --csr "$TMP/cdp.csr" --profile tls-server --san dns:cdp.example --out "$TMP/no.pem"
done
expect "... saying why" grep -q "must be http:// or https://" <("$ORCHARDD" --data-dir "$TMP/var" \
	--crl-base-url ftp://x cert issue --csr "$TMP/cdp.csr" --profile tls-server --san dns:x.example 2>&1)
timeout 20 "$ORCHARDD" --data-dir "$TMP/var" --listen 127.0.0.1:0 --crl-base-url http:///pki >"$TMP/bad.out" 2>&1
rc=$? # 124: it ran until killed
expect_eq "orchardd does not start with a --crl-base-url naming no host" "exited 1" \
	"$([[ $rc != 0 && $rc != 124 ]] && echo exited) $(grep -c 'names no host' "$TMP/bad.out")"

# --- bad inputs: right status and type, nothing changes --------------------------
before=$(psql_q "SELECT string_agg(serial || coalesce(revoked_at::text, '-'), ',' ORDER BY serial) FROM certificates")
http GET /pki/certificates/0123456789abcdef0123456789abcdef "${ADMIN[@]}"
expect_problem "unknown serial: 404" 404 certificate-not-found
http POST /pki/certificates/0123456789abcdef0123456789abcdef/revoke "${ADMIN[@]}" "${JSON[@]}" -d '{}'
expect_problem "revoking an unknown serial: 404" 404 certificate-not-found
http GET /pki/certificates/not-a-serial "${ADMIN[@]}"
expect_problem "a malformed serial: 400" 400 bad-serial
for r in '"bogus"' 7 11 -1 '"unused"' '[]'; do
	http POST "/pki/certificates/$LIVE/revoke" "${ADMIN[@]}" "${JSON[@]}" -d "{\"reason\":$r}"
	expect_problem "reason $r: 400" 400 bad-revocation-reason
done
http POST "/pki/certificates/$LIVE/revoke" "${ADMIN[@]}" "${JSON[@]}" -d 'not json'
expect_problem "a body that is not JSON: 400" 400 malformed-json
http GET "/pki/certificates?status=maybe" "${ADMIN[@]}"
expect_problem "a bad status filter: 400" 400 invalid-parameter
for q in limit=0 limit=501 limit=x after=0 after=-3 "after=1-zz"; do
	http GET "/pki/certificates?$q" "${ADMIN[@]}"
	expect_problem "list with $q: 400" 400 invalid-parameter
done
TWINS=(-H "Authorization: Bearer $(token twins:read)")
for p in "GET /pki/certificates" "GET /pki/certificates/$LIVE" "GET /pki/chain"; do
	http ${p% *} "${p#* }" "${TWINS[@]}"
	expect_problem "$p without pki:admin: 403" 403 forbidden-scope
done
http POST "/pki/certificates/$LIVE/revoke" "${TWINS[@]}" "${JSON[@]}" -d '{"reason":1}'
expect_problem "revoke without pki:admin: 403" 403 forbidden-scope
http GET /pki/certificates
expect_problem "no token: 401" 401 auth-missing
http GET /pki/crl "${TWINS[@]}" 2>/dev/null
expect_eq "the CRL with any token (or none) is the same: 200" 200 "$STATUS"
expect_eq "revocations left the CRL as it was" "$before" \
	"$(psql_q "SELECT string_agg(serial || coalesce(revoked_at::text, '-'), ',' ORDER BY serial) FROM certificates")"

# CLI refusals: nothing recorded.
csr weak "-algorithm RSA -pkeyopt rsa_keygen_bits:1024"
expect_fail "cert issue refuses RSA-1024" cert_issue --csr "$TMP/weak.csr" --profile tls-server --san dns:w.example
expect "and says why" grep -q "key type rsa1024 is not allowed" "$TMP/issue.err"
expect_fail "cert issue refuses an unknown profile" cert_issue --csr "$TMP/live.csr" --profile nope --san dns:w.example
expect_fail "cert issue refuses a bad DNS name" cert_issue --csr "$TMP/live.csr" --profile tls-server --san dns:bad_name
openssl req -in "$TMP/live.csr" -outform DER -out "$TMP/bad.der"
printf '\x01' | dd of="$TMP/bad.der" bs=1 seek=$(($(stat -c %s "$TMP/bad.der") - 3)) conv=notrunc 2>/dev/null
expect_fail "cert issue refuses a CSR whose signature does not verify" cert_issue --csr "$TMP/bad.der" --profile tls-server --san dns:w.example
expect "and says why" grep -q "signature does not verify" "$TMP/issue.err"
expect_eq "nothing changed" "$before" \
	"$(psql_q "SELECT string_agg(serial || coalesce(revoked_at::text, '-'), ',' ORDER BY serial) FROM certificates")"
expect "no key material in the log" bash -c "! grep -q 'PRIVATE KEY' '$OLOG' '$TMP/issue.err'"

# --- CA keys encrypted at rest, imported, profiles from a file -------------------
O=("$ORCHARDD" --data-dir "$TMP/enc")
ORCHARD_CA_PASSPHRASE='s3cret pass' expect "a CA created with ORCHARD_CA_PASSPHRASE issues" \
	"${O[@]}" cert issue --csr "$TMP/live.csr" --profile shortlived --san dns:enc.example --out "$TMP/enc.pem"
expect "its keys are encrypted" grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$TMP/enc/pki/ca.key" "$TMP/enc/pki/root.key"
expect_eq "and 0600" "600 600" "$(stat -c %a "$TMP/enc/pki/ca.key" "$TMP/enc/pki/root.key" | xargs)"
n=$(psql_q "SELECT count(*) FROM certificates")
expect_fail "without the passphrase it refuses to open" \
	"${O[@]}" cert issue --csr "$TMP/live.csr" --profile shortlived --san dns:enc.example
ORCHARD_CA_PASSPHRASE=wrong "${O[@]}" cert issue --csr "$TMP/live.csr" --profile shortlived --san dns:enc.example 2>"$TMP/enc.err"
expect "a wrong one too, saying so" grep -q "ORCHARD_CA_PASSPHRASE" "$TMP/enc.err"
expect "without echoing it" bash -c "! grep -q 's3cret' '$TMP/enc.err'"
expect_eq "nothing recorded" "$n" "$(psql_q "SELECT count(*) FROM certificates")"
I=("$ORCHARDD" --data-dir "$TMP/imp" --ca-root "$PKI/root.pem" --ca-cert "$PKI/ca.pem")
expect "an imported intermediate issues" "${I[@]}" --ca-key "$PKI/ca.key" cert issue --csr "$TMP/live.csr" \
	--profile tls-server --san dns:imp.example --out "$TMP/imp.pem"
expect "its leaf verifies against the original root" \
	openssl verify -CAfile "$PKI/root.pem" -untrusted "$PKI/ca.pem" "$TMP/imp.pem"
expect_fail "the root's key as the intermediate's is refused" "${I[@]}" --ca-key "$PKI/root.key" cert issue \
	--csr "$TMP/live.csr" --profile tls-server --san dns:imp.example
printf 'edge 2h digitalSignature serverAuth p256\nbad 1h digitalSignature serverAuth dsa\n' >"$TMP/profiles"
"$ORCHARDD" --data-dir "$TMP/var" --ca-profiles "$TMP/profiles" cert issue --csr "$TMP/live.csr" \
	--profile edge --san dns:e.example 2>"$TMP/prof.err"
expect "a bad profile file names its line" grep -q "profiles:2:" "$TMP/prof.err"
printf '# ours\nedge 2h digitalSignature serverAuth p256\n' >"$TMP/profiles"
expect "a profile from --ca-profiles issues" "$ORCHARDD" --data-dir "$TMP/var" --ca-profiles "$TMP/profiles" \
	cert issue --csr "$TMP/live.csr" --profile edge --san dns:e.example --out "$TMP/edge.pem"
expect_eq "for its lifetime" 7260 $(($(date -d "$(openssl x509 -in "$TMP/edge.pem" -noout -enddate | cut -d= -f2)" +%s) - \
	$(date -d "$(openssl x509 -in "$TMP/edge.pem" -noout -startdate | cut -d= -f2)" +%s)))

# CLI revoke, with the serial as openssl prints it (upper case, leading
# zeros dropped), then the CRL lists both.
http GET "/pki/certificates/$(tr a-f A-F <<<"${LIVE#0}")" "${ADMIN[@]}"
expect_eq "the REST API reads a serial as openssl prints it" "200 $LIVE" "$STATUS $(jq -r .serial <<<"$BODY")"
expect "cert revoke from the CLI" "$ORCHARDD" --data-dir "$TMP/var" cert revoke \
	"$(openssl x509 -in "$TMP/live.pem" -noout -serial | cut -d= -f2)" --reason superseded
expect_eq "the row says superseded" 4 "$(psql_q "SELECT revocation_reason FROM certificates WHERE serial = '$LIVE'")"

orchardd_stop
expect_eq "orchardd exits 0" 0 "$?"
tap_done
