#!/bin/bash
# tests/fuzz/wasm.sh: builds the libFuzzer driver for orchard-wasm's engine
# (load + validate + instantiate) and for the WASI host functions (arbitrary
# arguments over arbitrary guest memory) with clang-14 -fsanitize=fuzzer,address into
# build-fuzz/wasm, seeds it with our test modules, runs it for FUZZ_SECONDS.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/fuzz.sh
CXX=${FUZZ_CXX:-clang++-14}
OUT=build-fuzz/wasm
rm -rf "$OUT/scratch" # the WASI driver's preopened folder, fresh each run
mkdir -p "$OUT/obj" "$OUT/corpus"
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. $SAN"
CXXFLAGS="-g -O1 -std=c++17 -D_GNU_SOURCE -I. $SAN"
objs=()
for f in clients/wasm/wasi_ctx.c clients/wasm/wasi_proc.c clients/wasm/wasi_fd.c \
	clients/wasm/wasi_path.c clients/wasm/wasi_poll.c clients/wasm/wasi_sock.c clients/wasm/grants.c \
	clients/wasm/engine.c clients/wasm/engine_aot.c clients/wasm/cwasm.c common/hex.c; do
	o=$OUT/obj/$(basename "$f" .c).o
	$CC $CFLAGS -c "$f" -o "$o" || exit 1
	objs+=("$o")
done
$CXX $CXXFLAGS -c clients/wasm/engine_wabt.cc -o "$OUT/obj/engine_wabt.o" || exit 1
for d in fuzz_wasm fuzz_wasi; do
	$CC $CFLAGS -c "tests/fuzz/wasm/$d.c" -o "$OUT/obj/$d.o" || exit 1
	$CXX -fsanitize=fuzzer,address,undefined -o "$OUT/$d" "$OUT/obj/$d.o" "${objs[@]}" \
		"$OUT/obj/engine_wabt.o" -lwabt -lcrypto || exit 1
done
# Seeds: every module the test suite builds, when it has been built.
cp build/wasm/tests/*.wasm build/wasm/examples/*.wasm "$OUT/corpus/" 2>/dev/null
for w in tests/wasm/bad/*.wat; do wat2wasm --no-check "$w" -o "$OUT/corpus/$(basename "$w" .wat).wasm" 2>/dev/null; done
mkdir -p "$OUT/corpus_wasi"
# WASI seeds: every function index, fd 3 (the scratch preopen), pointers to a
# short path "a.txt" at 0 and "b/c" at 16, small lengths and flags.
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
for k in $(seq 0 79); do
	a="$(le32 3)$(le32 $((0x80000000)))$(le32 $((0x40000005)))$(le32 $((0x80000010)))$(le32 $((0x40000003)))"
	a="$a$(le32 $((0x80000020)))$(le32 $((0x80000030)))$(le32 1)$(le32 $((0x80000040)))"
	printf "\\x$(printf %02x "$k")${a}a.txt\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0b/c\\0" >"$OUT/corpus_wasi/seed-$k" 2>/dev/null
done
fuzz_run "$OUT/fuzz_wasm" "$OUT/corpus" "" 65536 -rss_limit_mb=2048 -timeout=10
fuzz_run "$OUT/fuzz_wasi" "$OUT/corpus_wasi" "" 65536 -rss_limit_mb=2048 -timeout=10
exit $rc
