#!/bin/bash
# Devices waiting on their twins, alone (bench/twins.sh runs the same rounds
# after its throughput runs): memory per waiting device and the desired PATCH
# on B -> device on A latency. BENCH_ORCHARDD_ARGS go to instance A;
# BENCH_TWIN_READ_FIRST=1 makes each device read its twin before it waits.
set -u
cd "$(dirname "$0")/.."
BUILD=build
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
OPID2=
trap 'kill $OPID2 2>/dev/null; fixture_cleanup' EXIT
TWINS=${BENCH_TWINS:-10000}
WAITERS=${BENCH_TWIN_WAITERS:-1000,10000}
SAMPLE=${BENCH_TWIN_SAMPLE:-200}
ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. bench/lib/twin_fixture.sh

python3 bench/twin_waiters.py "$URL" "$URL2" "$OPID" "$TOKEN" "$TMP/var/pki/root.pem" "$GK" \
	"$WAITERS" "$SAMPLE" || exit 1
