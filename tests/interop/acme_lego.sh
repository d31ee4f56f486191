#!/bin/bash
# Interop: lego (Debian), unmodified, against orchardd's ACME directory
# with the development root trusted (LEGO_CA_CERTIFICATES): `run` with
# http-01, `renew` with tls-alpn-01 (RFC 8737), `revoke`; each chain
# verifies against Orchard's root and the CRL lists the revoked one.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/acme_interop.sh
NAME=lego.example.test
acme_interop_start lego
export LEGO_CA_CERTIFICATES="$ROOTPEM"
LEGO=(lego --server "$DIR" --email ops@example.com --accept-tos --path "$TMP/lego" -d "$NAME")
CRT="$TMP/lego/certificates/$NAME.crt"
lego_run() { client_run "$1" /dev/null "${LEGO[@]}" "${@:2}"; }

verify() { # label: the leaf against the root, with the bundle's intermediate
	expect_eq "$1" "$CRT: OK" \
		"$(openssl verify -CAfile "$ROOTPEM" -untrusted "$CRT" "$CRT" 2>&1)"
}

# openssl prints a serial without its leading zero bytes; orchardd records 32 digits
# (a serial starting 00, one in 256, failed "it is recorded revoked").
serial_of() { openssl x509 -noout -serial -in "$CRT" | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//'; }

# It gives its authorizations up after issuing, so the renewal proves
# control again (with tls-alpn-01) instead of reusing them.
lego_run "lego run --http (http-01) obtains a certificate" \
	--http --http.port "127.0.0.1:$HTTP_PORT" run --always-deactivate-authorizations true
verify "the chain verifies with openssl against Orchard's root"
FIRST=$(serial_of)
lego_run "lego renew --tls (tls-alpn-01) renews it" \
	--tls --tls.port "127.0.0.1:$TLS_PORT" renew --days 30 --no-random-sleep
verify "the renewed chain verifies"
SECOND=$(serial_of)
expect "the renewal is a new certificate" test -n "$SECOND" -a "$SECOND" != "$FIRST"
expect_eq "lego deactivated the first authorization; the renewal was validated with tls-alpn-01" \
	"deactivated http-01|valid tls-alpn-01" \
	"$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT string_agg(a.status || ' ' || c.type, '|' ORDER BY a.created_at) FROM acme_authzs a JOIN acme_challenges c ON c.authz_id = a.id WHERE c.status = 'valid'")"
lego_run "lego revoke revokes the renewed certificate" revoke
expect_eq "it is recorded revoked" "$SECOND" \
	"$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT string_agg(ltrim(serial, '0'), ' ') FROM certificates WHERE revoked_at IS NOT NULL")"
http GET /pki/crl -H "Authorization: Bearer $(token pki:admin)" 2>/dev/null
expect_eq "the CRL lists it" 1 \
	"$(openssl crl -inform DER -noout -text -in "$TMP/body" 2>/dev/null | grep -c "Serial Number")"
orchardd_stop
expect_eq "orchardd exits cleanly" 0 $?
tap_done
