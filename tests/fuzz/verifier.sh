#!/bin/bash
# Builds the verifier's libFuzzer drivers (clang-14, fuzzer + ASan + UBSan)
# into build-fuzz/ and runs each for FUZZ_SECONDS over its seed corpus.
set -u
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang-14}
OUT=build-fuzz/verifier
mkdir -p "$OUT"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
SRCS="$(ls verifier/*.c) common/hex.c common/ct.c common/cursor.c common/buf.c"
LIBS="-ltss2-mu -ljwt -ljansson -lcrypto"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
for d in tests/fuzz/verifier/fuzz_*.c; do
	name=$(basename "$d" .c)
	if ! $CC $CFLAGS -o "$OUT/$name" "$d" $SRCS $LIBS; then
		echo "$name: build failed"
		rc=1
		continue
	fi
	corpus="$OUT/$name.corpus"
	mkdir -p "$corpus"
	[[ -d tests/fuzz/verifier/seeds/$name ]] && cp -n tests/fuzz/verifier/seeds/$name/* "$corpus"/ 2>/dev/null
	echo "== $name (${FUZZ_SECONDS}s)"
	if ! "$OUT/$name" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -rss_limit_mb=2048 \
		-artifact_prefix="$OUT/$name-" "$corpus" >"$OUT/$name.log" 2>&1; then
		echo "$name: FAILED (see $OUT/$name.log)"
		tail -n 40 "$OUT/$name.log"
		rc=1
	else
		grep -E '^#[0-9]+.*DONE|Done [0-9]+ runs' "$OUT/$name.log" | tail -n 1
	fi
done
exit $rc
