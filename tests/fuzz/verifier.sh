#!/bin/bash
# Builds the verifier's libFuzzer drivers (clang-14, fuzzer + ASan + UBSan)
# into build-fuzz/ and runs each for FUZZ_SECONDS over its seed corpus.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/fuzz.sh
OUT=build-fuzz/verifier
mkdir -p "$OUT"
SRCS="$(ls verifier/*.c) common/hex.c common/ct.c common/cursor.c common/buf.c"
LIBS="-ltss2-mu -ljwt -ljansson -lcrypto"
for d in tests/fuzz/verifier/fuzz_*.c; do
	name=$(basename "$d" .c)
	if ! $CC $CFLAGS -o "$OUT/$name" "$d" $SRCS $LIBS; then
		echo "$name: build failed"
		rc=1
		continue
	fi
	fuzz_run "$OUT/$name" "$OUT/$name.corpus" "tests/fuzz/verifier/seeds/$name" 65536 -rss_limit_mb=2048
done
exit $rc
