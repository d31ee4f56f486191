#!/bin/bash
# Builds the libFuzzer drivers for acme/'s parsers (identifiers, external
# account binding, keyChange's inner JWS, ARI certificate identifiers, request
# JWS and jwk, finalize's CSR through pki/) with clang-14 + ASan + UBSan into
# build-fuzz/acme and runs each for FUZZ_SECONDS.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/fuzz.sh
OUT=build-fuzz/acme
mkdir -p "$OUT"
for name in fuzz_ident fuzz_eab fuzz_ari fuzz_jws fuzz_csr; do
	$CC $CFLAGS -o "$OUT/$name" "tests/fuzz/acme/$name.c" acme/*.c verifier/*.c pki/*.c common/*.c \
		-ljansson -lcurl -lssl -lcrypto -lresolv -lcbor -ltss2-mu -ljwt || { echo "$name: build failed"; rc=1; continue; }
	fuzz_run "$OUT/$name" "$OUT/$name.corpus" "tests/fuzz/acme/seeds/$name" 2048
done
exit $rc
