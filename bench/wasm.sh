#!/bin/bash
# bench/wasm.sh: orchard-wasm's two engines (compiled .cwasm and the wabt
# interpreter) against the same C built natively by clang-14 -O2, in one run:
# CPU-bound guests (fib, checksum), the example HTTP server's requests/s under
# wrk with keep-alive, compile time and .cwasm size, start-up and memory.
set -u
cd "$(dirname "$0")/.."
B=${ORCHARD_BUILD:-build}
W=$B/orchard-wasm
OUT=$B/bench/wasm
mkdir -p "$OUT"
make -s "$W" "$B/wasm/examples/httpd.wasm" >/dev/null || exit 1
clang-14 --target=wasm32-wasi -O2 tests/wasm/guests/cpu.c -o "$OUT/cpu.wasm" || exit 1
clang-14 -O2 tests/wasm/guests/cpu.c -o "$OUT/cpu" || exit 1
clang-14 -O2 clients/wasm/examples/httpd.c -o "$OUT/httpd" || exit 1

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# best of 3 wall-clock milliseconds
best_ms() {
	local best=999999999 t0 t
	for _ in 1 2 3; do
		t0=$(now_ms)
		"$@" >/dev/null || return 1
		t=$(($(now_ms) - t0))
		((t < best)) && best=$t
	done
	echo "$best"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 1; printf "%.1f", a / b }'; }
kib() { awk -v a="$1" 'BEGIN { printf "%.0f", a / 1024 }'; }

echo "-- compile (orchard-wasm compile: wasm2c + cc -O3), once each"
for m in "$OUT/cpu" "$B/wasm/examples/httpd"; do
	t0=$(now_ms)
	"$W" compile "$m.wasm" -o "$OUT/$(basename "$m").cwasm" || exit 1
	printf '%-8s %5d ms   .wasm %5s KiB   .cwasm %5s KiB\n' "$(basename "$m")" $(($(now_ms) - t0)) \
		"$(kib "$(stat -c %s "$m.wasm")")" "$(kib "$(stat -c %s "$OUT/$(basename "$m").cwasm")")"
done

echo "-- CPU-bound guest (best of 3, wall clock; both engines include orchard-wasm start-up)"
for w in "fib 32" "checksum 60"; do
	# shellcheck disable=SC2086
	n=$(best_ms "$OUT/cpu" $w)
	# shellcheck disable=SC2086
	c=$(best_ms "$W" run "$OUT/cpu.cwasm" $w)
	# shellcheck disable=SC2086
	i=$(best_ms "$W" run "$OUT/cpu.wasm" $w)
	printf '%-12s native %5d ms   compiled %5d ms (%sx)   interpreted %6d ms (%sx)\n' "$w" "$n" \
		"$c" "$(ratio "$c" "$n")" "$i" "$(ratio "$i" "$n")"
done

port() { echo $((30000 + RANDOM % 20000)); }
wait_http() {
	for _ in $(seq 1 400); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
		sleep 0.005
	done
	return 1
}
wrk_rps() { # port
	wrk -t2 -c32 -d5s "http://127.0.0.1:$1/" 2>/dev/null | awk '/Requests/ { print int($2) }'
}
# serve LABEL CMD...: starts CMD with every @P replaced by a port (a random
# port may be taken: a few tries); sets SP (its pid), P and STARTUP_MS; the
# app's output goes to $OUT/LABEL.log.
serve() {
	local label=$1
	shift
	for _ in 1 2 3; do
		P=$(port)
		local t0
		t0=$(date +%s%N)
		"${@//@P/$P}" >"$OUT/$label.log" 2>&1 &
		SP=$!
		if wait_http "$P"; then
			STARTUP_MS=$((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		kill $SP 2>/dev/null
		wait $SP 2>/dev/null
		echo "$label did not come up on port $P: $(tail -n 2 "$OUT/$label.log")"
	done
	return 1
}
stop() {
	kill "$SP" 2>/dev/null
	wait "$SP" 2>/dev/null
}
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

echo "-- example HTTP server, wrk -t2 -c32 -d5s, keep-alive"
serve native "$OUT/httpd" @P
native_startup=$STARTUP_MS rss_native=$(rss $SP) native=$(wrk_rps "$P")
stop
serve compiled "$W" run --listen @P "$OUT/httpd.cwasm" @P
compiled_startup=$STARTUP_MS rss_c=$(rss "$(pgrep -P $SP | head -1)") compiled=$(wrk_rps "$P")
stop
serve interpreted "$W" run --listen @P "$B/wasm/examples/httpd.wasm" @P
interp_startup=$STARTUP_MS rss_i=$(rss "$(pgrep -P $SP | head -1)") rss_sup=$(rss $SP)
interp=$(wrk_rps "$P")
stop
pct() { awk -v a="${1:-0}" -v b="${2:-1}" 'BEGIN { printf "%.0f", 100 * a / b }'; }
printf 'native %7s req/s   compiled %7s req/s (%s%%)   interpreted %7s req/s (%s%%)\n' \
	"$native" "$compiled" "$(pct "$compiled" "$native")" "$interp" "$(pct "$interp" "$native")"

echo "-- start-up and memory"
printf 'start-up to first HTTP answer: native %d ms, compiled %d ms, interpreted %d ms\n' \
	"$native_startup" "$compiled_startup" "$interp_startup"
n=$(best_ms "$OUT/cpu" fib 1)
c=$(best_ms "$W" run "$OUT/cpu.cwasm" fib 1)
i=$(best_ms "$W" run "$OUT/cpu.wasm" fib 1)
printf 'a trivial command (fib 1), best of 3: native %d ms, compiled %d ms, interpreted %d ms\n' "$n" "$c" "$i"
printf 'RSS of the app: native %s KiB, compiled %s KiB, interpreted %s KiB; supervisor %s KiB\n' \
	"${rss_native:-?}" "${rss_c:-?}" "${rss_i:-?}" "${rss_sup:-?}"
