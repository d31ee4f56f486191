#!/bin/bash
# Interop: certbot (Debian), unmodified, against orchardd's ACME directory
# with the development root trusted (REQUESTS_CA_BUNDLE, no
# --no-verify-ssl): standalone http-01 obtains a certificate, renews it,
# and revokes both, one with the account key and one with the
# certificate's own key; each chain verifies against Orchard's root and the
# CRL lists both.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/orchardd.sh
. tests/lib/acme_interop.sh
NAME=certbot.example.test
acme_interop_start certbot
CB=(certbot --non-interactive --config-dir "$TMP/cb/etc" --work-dir "$TMP/cb/work"
	--logs-dir "$TMP/cb/logs" --server "$DIR")
export REQUESTS_CA_BUNDLE="$ROOTPEM"
LIVE="$TMP/cb/etc/live/$NAME"
certbot_run() { client_run "$1" "$TMP/cb/logs/letsencrypt.log" "${CB[@]}" "${@:2}"; }

verify() { # label
	expect_eq "$1" "$LIVE/cert.pem: OK" \
		"$(openssl verify -CAfile "$ROOTPEM" -untrusted "$LIVE/chain.pem" "$LIVE/cert.pem" 2>&1)"
}

# openssl prints a serial without its leading zero bytes; orchardd records 32
# digits: both compared without leading zeros (a serial starting 00, one in 256).
serial_of() { openssl x509 -noout -serial -in "$1" | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//'; }

certbot_run "certbot certonly --standalone (http-01) obtains a certificate" \
	certonly --standalone --agree-tos -m ops@example.com --http-01-port "$HTTP_PORT" \
	--http-01-address 127.0.0.1 -d "$NAME"
verify "the chain verifies with openssl against Orchard's root"
expect_eq "the certificate names $NAME" "DNS:$NAME" \
	"$(openssl x509 -noout -ext subjectAltName -in "$LIVE/cert.pem" 2>/dev/null | tail -1 | tr -d ' ')"
FIRST=$(serial_of "$LIVE/cert.pem")
cp "$LIVE/cert.pem" "$TMP/first.pem"
cp "$LIVE/privkey.pem" "$TMP/first.key"

certbot_run "certbot renew --force-renewal renews it" \
	renew --force-renewal --no-random-sleep-on-renew
verify "the renewed chain verifies"
SECOND=$(serial_of "$LIVE/cert.pem")
expect "the renewal is a new certificate" test -n "$SECOND" -a "$SECOND" != "$FIRST"
expect_eq "both are recorded as the account's, by order" "2 2 2" \
	"$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT count(*) || ' ' || count(DISTINCT acme_order_id) || ' ' || count(acme_account_id) FROM certificates")"

certbot_run "certbot revoke (account key) revokes the renewed certificate" \
	revoke --cert-path "$LIVE/cert.pem" --reason superseded --no-delete-after-revoke
certbot_run "certbot revoke --key-path (the certificate's own key) revokes the first" \
	revoke --cert-path "$TMP/first.pem" --key-path "$TMP/first.key" --reason keycompromise \
	--no-delete-after-revoke
expect_eq "both are revoked, with the reasons given (superseded 4, keyCompromise 1)" "$FIRST 1|$SECOND 4" \
	"$(psql "$ORCHARD_DATABASE_URL" -Atc "SELECT string_agg(ltrim(serial, '0') || ' ' || revocation_reason, '|' ORDER BY revocation_reason) FROM certificates WHERE revoked_at IS NOT NULL")"
http GET /pki/crl -H "Authorization: Bearer $(token pki:admin)" 2>/dev/null
expect_eq "the CRL lists both" 2 \
	"$(openssl crl -inform DER -noout -text -in "$TMP/body" 2>/dev/null | grep -c "Serial Number")"
orchardd_stop
expect_eq "orchardd exits cleanly" 0 $?
tap_done
