#!/bin/bash
# Builds the libFuzzer drivers for acme/'s parsers (identifiers, external
# account binding, keyChange's inner JWS, ARI certificate identifiers) with clang-14 + ASan + UBSan into
# build-fuzz/acme and runs each for FUZZ_SECONDS.
set -u
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang-14}
OUT=build-fuzz/acme
mkdir -p "$OUT"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
rc=0
for name in fuzz_ident fuzz_eab fuzz_ari; do
	$CC $CFLAGS -o "$OUT/$name" "tests/fuzz/acme/$name.c" acme/*.c common/*.c \
		-ljansson -lcurl -lssl -lcrypto -lresolv || { echo "$name: build failed"; rc=1; continue; }
	mkdir -p "$OUT/$name.corpus"
	cp -n tests/fuzz/acme/seeds/$name/* "$OUT/$name.corpus"/ 2>/dev/null
	echo "== $name (${FUZZ_SECONDS}s)"
	if ! "$OUT/$name" -max_total_time="$FUZZ_SECONDS" -max_len=2048 -artifact_prefix="$OUT/$name-" \
		"$OUT/$name.corpus" >"$OUT/$name.log" 2>&1; then
		echo "$name: FAILED (see $OUT/$name.log)"
		tail -n 30 "$OUT/$name.log"
		rc=1
	else
		grep -E 'Done [0-9]+ runs' "$OUT/$name.log" | tail -n 1
	fi
done
exit $rc
