#!/bin/bash
# Quote verification rate per core (RSA-2048 and ECC P-256 AKs; cached AK
# and nothing cached) beside `openssl speed` raw verify rates from this run.
# Evidence is made fresh with swtpm; target: cached >= 80% of raw.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
SECS=${BENCH_SECONDS:-3}
make -s "$BUILD/verifier-bench" || exit 1
B=$PWD/$BUILD/verifier-bench
source tests/lib/swtpm.sh
T=$(mktemp -d /tmp/orchard-bench.XXXXXX)
trap 'swtpm_stop; rm -rf "$T"' EXIT
swtpm_start "$T/tpm" >/dev/null || exit 1
cd "$T"
N=00112233445566778899aabbccddeeff
t() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; tpm2_flushcontext -t >/dev/null 2>&1; }
t tpm2_createak -C 0x81010001 -c rsa.ctx -G rsa -g sha256 -s rsassa -u rsa.pub
t tpm2_createak -C 0x81010001 -c ecc.ctx -G ecc256 -g sha256 -s ecdsa -u ecc.pub
for k in rsa ecc; do
	t tpm2_quote -c $k.ctx -l sha256:0,1,2,3,4,5,6,7 -q $N -m $k.msg -s $k.sig -o $k.pcrs -g sha256
done
swtpm_stop
# 'openssl speed' prints "... sign verify sign/s verify/s"; take verify/s.
raw_rsa=$(openssl speed -seconds "$SECS" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $NF}')
raw_ecc=$(openssl speed -seconds "$SECS" ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/ {print $NF}')
for k in rsa ecc; do
	c=$($B cached "$SECS" $k.pub $k.msg $k.sig $k.pcrs $N) || exit 1
	u=$($B uncached "$SECS" $k.pub $k.msg $k.sig $k.pcrs $N) || exit 1
	eval "cached_$k=$c uncached_$k=$u"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
printf '%-34s %12s %14s %8s\n' "quote verification (1 core)" "quotes/s" "raw verify/s" "ratio"
printf '%-34s %12s %14s %8s\n' "RSA-2048 AK, cached" "$cached_rsa" "$raw_rsa" "$(ratio "$cached_rsa" "$raw_rsa")"
printf '%-34s %12s %14s %8s\n' "RSA-2048 AK, nothing cached" "$uncached_rsa" "$raw_rsa" "$(ratio "$uncached_rsa" "$raw_rsa")"
printf '%-34s %12s %14s %8s\n' "ECC P-256 AK, cached" "$cached_ecc" "$raw_ecc" "$(ratio "$cached_ecc" "$raw_ecc")"
printf '%-34s %12s %14s %8s\n' "ECC P-256 AK, nothing cached" "$uncached_ecc" "$raw_ecc" "$(ratio "$uncached_ecc" "$raw_ecc")"
echo "(raw = openssl speed -seconds $SECS rsa2048 / ecdsap256 verify rate, same run; target cached >= 80%)"
