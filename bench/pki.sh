#!/bin/bash
# Certificates issued per second by pki_issue() for P-256 leaves on one
# core (P-256 CA), beside `openssl speed ecdsap256` signs per second from
# this run: one issue is one signature plus the CSR check (one verify) and
# the encoding, so the sign rate is the ceiling.
set -u
cd "$(dirname "$0")/.."
BUILD=${ORCHARD_BUILD:-build}
SECS=${BENCH_SECONDS:-3}
make -s "$BUILD/pki-bench" || exit 1
T=$(mktemp -d /tmp/orchard-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
# 'openssl speed' prints "... sign verify sign/s verify/s".
line=$(openssl speed -seconds "$SECS" ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/')
sign=$(awk '{print $(NF-1)}' <<<"$line")
verify=$(awk '{print $NF}' <<<"$line")
rate=$("$BUILD/pki-bench" "$T/ca" "$SECS") || exit 1
akrate=$("$BUILD/pki-bench" "$T/ca" "$SECS" ak) || exit 1
# With a verify per issue, the best possible is 1 / (1/sign + 1/verify).
best=$(awk -v s="$sign" -v v="$verify" 'BEGIN {printf "%.0f", 1 / (1 / s + 1 / v)}')
printf 'pki_issue P-256 leaves, 1 core:  %8s certificates/s\n' "$rate"
printf 'pki_issue_ak P-256 AKs, 1 core:  %8s AK certificates/s (no CSR to verify)\n' "$akrate"
printf 'openssl speed ecdsap256 sign:    %8.0f signs/s  (verify %.0f/s; sign+verify bound %s/s)\n' \
	"$sign" "$verify" "$best"
awk -v r="$rate" -v b="$best" 'BEGIN {printf "issue rate / sign+verify bound: %.0f%%\n", 100 * r / b}'
