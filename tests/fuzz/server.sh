#!/bin/bash
# Builds the libFuzzer drivers for orchardd's own parsers (request JSON,
# base64, the request pipeline over the real route table) with clang-14 +
# ASan + UBSan into build-fuzz/server and runs each for FUZZ_SECONDS.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/fuzz.sh
OUT=build-fuzz/server
mkdir -p "$OUT"
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
# With the libraries orchardd links: acme/, verifier/ and pki/ (devpki.c is a
# server source already).
lib_srcs="$(ls acme/*.c verifier/*.c) $(ls pki/*.c | grep -v '^pki/devpki\.c$')"
build fuzz_pipeline $server_srcs $lib_srcs "$OUT/migrations.c" common/*.c \
	$(make -s --no-print-directory print-PQ_CFLAGS) $(make -s --no-print-directory print-SERVER_LIBS)
for name in fuzz_jsonb fuzz_b64 fuzz_pipeline; do
	fuzz_run "$OUT/$name" "$OUT/$name.corpus" "tests/fuzz/server/seeds/$name" 4096
done
exit $rc
