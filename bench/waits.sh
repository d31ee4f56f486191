#!/bin/bash
# Waiting requests: BENCH_WAITERS (default 10,000) long polls suspended on
# one orchardd, memory per waiter, and the wake latency from a write on a
# second orchardd sharing the database to the answers from the first.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
OPID2=
trap 'kill $OPID2 2>/dev/null; fixture_cleanup' EXIT
N=${BENCH_WAITERS:-10000}
ulimit -n $((N + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pg_start >/dev/null
orchardd_start || exit 1
OPID2=$OPID URL2=$URL
orchardd_start || exit 1
TOKEN=$(token all)
sleep 1
python3 bench/waiters.py "$URL" "$URL2" "$OPID" "$TOKEN" "$TMP/var/pki/root.pem" "$N"
