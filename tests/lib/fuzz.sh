# tests/lib/fuzz.sh: what every tests/fuzz/*.sh shares: the clang flags and
# fuzz_run, which seeds a corpus, runs one libFuzzer driver and reports.
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang-14}
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0

# fuzz_run BINARY CORPUS SEEDS MAXLEN [LIBFUZZER FLAGS...]: copies SEEDS (a
# folder, may be absent) into CORPUS, runs BINARY for FUZZ_SECONDS, prints
# its last "Done N runs" line or FAILED with the log's tail, and sets rc=1.
fuzz_run() {
	local bin=$1 corpus=$2 seeds=$3 maxlen=$4
	shift 4
	[[ -x $bin ]] || return 0
	mkdir -p "$corpus"
	[[ -d $seeds ]] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
	echo "== $(basename "$bin") (${FUZZ_SECONDS}s)"
	if ! "$bin" -max_total_time="$FUZZ_SECONDS" -max_len="$maxlen" -artifact_prefix="$bin-" "$@" \
		"$corpus" >"$bin.log" 2>&1; then
		echo "$(basename "$bin"): FAILED (see $bin.log)"
		tail -n 40 "$bin.log"
		rc=1
	else
		grep -E 'Done [0-9]+ runs' "$bin.log" | tail -n 1
	fi
}
