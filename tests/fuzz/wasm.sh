#!/bin/bash
# tests/fuzz/wasm.sh: builds the libFuzzer driver for orchard-wasm's engine
# (load + validate + instantiate) with clang-14 -fsanitize=fuzzer,address into
# build-fuzz/wasm, seeds it with our test modules, runs it for FUZZ_SECONDS.
set -u
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang-14}
CXX=${FUZZ_CXX:-clang++-14}
OUT=build-fuzz/wasm
mkdir -p "$OUT/obj" "$OUT/corpus"
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. $SAN"
CXXFLAGS="-g -O1 -std=c++17 -D_GNU_SOURCE -I. $SAN"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
objs=()
for f in clients/wasm/wasi_ctx.c clients/wasm/wasi_proc.c clients/wasm/wasi_fd.c \
	clients/wasm/wasi_path.c clients/wasm/wasi_poll.c clients/wasm/wasi_sock.c clients/wasm/grants.c; do
	o=$OUT/obj/$(basename "$f" .c).o
	$CC $CFLAGS -c "$f" -o "$o" || exit 1
	objs+=("$o")
done
$CXX $CXXFLAGS -c clients/wasm/engine_wabt.cc -o "$OUT/obj/engine_wabt.o" || exit 1
$CC $CFLAGS -c tests/fuzz/wasm/fuzz_wasm.c -o "$OUT/obj/fuzz_wasm.o" || exit 1
$CXX -fsanitize=fuzzer,address,undefined -o "$OUT/fuzz_wasm" "$OUT/obj/fuzz_wasm.o" "${objs[@]}" \
	"$OUT/obj/engine_wabt.o" -lwabt || exit 1
# Seeds: every module the test suite builds, when it has been built.
cp build/wasm/tests/*.wasm build/wasm/examples/*.wasm "$OUT/corpus/" 2>/dev/null
for w in tests/wasm/bad/*.wat; do wat2wasm --no-check "$w" -o "$OUT/corpus/$(basename "$w" .wat).wasm" 2>/dev/null; done
echo "== fuzz_wasm (${FUZZ_SECONDS}s)"
if ! "$OUT/fuzz_wasm" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
	-artifact_prefix="$OUT/fuzz_wasm-" "$OUT/corpus" >"$OUT/fuzz_wasm.log" 2>&1; then
	echo "fuzz_wasm: FAILED (see $OUT/fuzz_wasm.log)"
	tail -n 40 "$OUT/fuzz_wasm.log"
	exit 1
fi
grep -E 'Done [0-9]+ runs' "$OUT/fuzz_wasm.log" | tail -n 1
