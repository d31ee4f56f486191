#!/bin/bash
# Builds the libFuzzer drivers for orchardd's own parsers (request JSON,
# base64, the request pipeline over the real route table) with clang-14 +
# ASan + UBSan into build-fuzz/server and runs each for FUZZ_SECONDS.
set -u
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang-14}
OUT=build-fuzz/server
mkdir -p "$OUT"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
rc=0
build() { # name sources-and-flags...
	local name=$1
	shift
	$CC $CFLAGS -o "$OUT/$name" "tests/fuzz/server/$name.c" "$@" -ljansson || { echo "$name: build failed"; rc=1; return 1; }
}
build fuzz_jsonb common/jsonb.c
build fuzz_b64 common/b64.c
# The pipeline links orchardd itself, less main(): the real route table and
# its handlers, as the Makefile lists them, so a new route is fuzzed too.
scripts/embed-migrations >"$OUT/migrations.c"
server_srcs=$(make -s --no-print-directory print-SERVER_SRCS | tr ' ' '\n' | grep -v '^server/main\.c$')
# With the libraries orchardd links: acme/ and pki/ (devpki.c is a server source already).
lib_srcs="$(ls acme/*.c) $(ls pki/*.c | grep -v '^pki/devpki\.c$')"
build fuzz_pipeline $server_srcs $lib_srcs "$OUT/migrations.c" common/*.c \
	$(make -s --no-print-directory print-PQ_CFLAGS) $(make -s --no-print-directory print-SERVER_LIBS)
for name in fuzz_jsonb fuzz_b64 fuzz_pipeline; do
	[[ -x "$OUT/$name" ]] || continue
	mkdir -p "$OUT/$name.corpus"
	[[ -d tests/fuzz/server/seeds/$name ]] && cp -n tests/fuzz/server/seeds/$name/* "$OUT/$name.corpus"/ 2>/dev/null
	echo "== $name (${FUZZ_SECONDS}s)"
	if ! "$OUT/$name" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -artifact_prefix="$OUT/$name-" \
		"$OUT/$name.corpus" >"$OUT/$name.log" 2>&1; then
		echo "$name: FAILED (see $OUT/$name.log)"
		tail -n 30 "$OUT/$name.log"
		rc=1
	else
		grep -E 'Done [0-9]+ runs' "$OUT/$name.log" | tail -n 1
	fi
done
exit $rc
