#!/bin/bash
# Builds the libFuzzer driver for depot/'s parsers (the .opkg container,
# manifests, Range and If-None-Match) with clang-14 + ASan + UBSan into
# build-fuzz/depot and runs it for FUZZ_SECONDS.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/fuzz.sh
OUT=build-fuzz/depot
mkdir -p "$OUT"
for name in fuzz_opkg; do
	$CC $CFLAGS -o "$OUT/$name" "tests/fuzz/depot/$name.c" depot/*.c common/*.c \
		-ljansson -lcrypto || { echo "$name: build failed"; rc=1; continue; }
	fuzz_run "$OUT/$name" "$OUT/$name.corpus" "tests/fuzz/depot/seeds/$name" 8192
done
exit $rc
