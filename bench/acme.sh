#!/bin/bash
# Complete ACME issuances per second (newOrder -> http-01 against the load
# client's own responder -> finalize -> download), many accounts in
# parallel, against orchardd (PostgreSQL-backed, durable) and, in the same
# run with the same client, against Pebble (PEBBLE_VA_NOSLEEP=1), with the
# p50/p99 of one flow. bench/acme_load.c is the client.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
. tests/lib/acme_interop.sh
SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_ACME_CLIENTS:-16} # Debian's Pebble stops answering newOrder at 32
make -s "$BUILD/bench/acme_load" || exit 1
trap 'kill $PEBBLE 2>/dev/null; acme_dns_stop; fixture_cleanup' EXIT
PEBBLE=

# A durable cluster (fsync and synchronous_commit on), not the tests' --fast one.
"$ROOT/scripts/pg-cluster" start "$TMP/db" >/dev/null 2>&1 || exit 1
export PGDIR="$TMP/db" ORCHARD_DATABASE_URL=$("$ROOT/scripts/pg-cluster" url "$TMP/db")
acme_dns_start || exit 1
RESP=$(free_port)
ORCHARD_ACME_ORDERS_PER_HOUR=0 ORCHARD_ACME_PENDING_AUTHZ_MAX=0 \
	acme_orchardd_start "$RESP" "$(free_port)" || exit 1
read -r _ o_rate _ o_p50 _ o_p99 _ o_err _ o_n < <("$BUILD/bench/acme_load" "$DIR" "$TMP/var/pki/root.pem" \
	"$CLIENTS" "$SECS" "$RESP")
orchardd_stop

# Pebble with a server certificate from a CA of our own.
P=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
	-keyout "$TMP/pca.key" -out "$TMP/pca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout "$TMP/p.key" -out "$TMP/p.csr" 2>/dev/null
openssl x509 -req -in "$TMP/p.csr" -CA "$TMP/pca.pem" -CAkey "$TMP/pca.key" -days 1 \
	-extfile <(echo "subjectAltName=IP:127.0.0.1") -out "$TMP/p.pem" 2>/dev/null
cat >"$TMP/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$P", "managementListenAddress": "127.0.0.1:$(free_port)",
 "certificate": "$TMP/p.pem", "privateKey": "$TMP/p.key", "httpPort": $RESP, "tlsPort": $(free_port),
 "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
	pebble -config "$TMP/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$TMP/pebble.log" 2>&1 &
PEBBLE=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.05; done
read -r _ p_rate _ p_p50 _ p_p99 _ p_err _ p_n < <("$BUILD/bench/acme_load" "https://127.0.0.1:$P/dir" \
	"$TMP/pca.pem" "$CLIENTS" "$SECS" "$RESP")

printf 'ACME issuances, %s accounts in parallel, %ss each (new order, http-01, finalize, download):\n' \
	"$CLIENTS" "$SECS"
printf '  orchardd (PostgreSQL, durable): %8s certificates/s  p50 %6s ms  p99 %6s ms  (%s certs, %s errors)\n' \
	"$o_rate" "$o_p50" "$o_p99" "$o_n" "$o_err"
printf '  pebble (VA_NOSLEEP, in memory): %8s certificates/s  p50 %6s ms  p99 %6s ms  (%s certs, %s errors)\n' \
	"$p_rate" "$p_p50" "$p_p99" "$p_n" "$p_err"
