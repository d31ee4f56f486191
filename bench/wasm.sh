#!/bin/bash
# bench/wasm.sh: orchard-wasm against the same C compiled natively, in one
# run (both built by clang-14 -O2): CPU-bound guests (fib, checksum), the example HTTP server's requests/s
# under wrk with keep-alive, and start-up time and resident memory of an app.
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

echo "-- CPU-bound guest (best of 3, wall clock; wasm includes orchard-wasm start-up)"
for w in "fib 32" "checksum 60"; do
	# shellcheck disable=SC2086
	n=$(best_ms "$OUT/cpu" $w)
	# shellcheck disable=SC2086
	m=$(best_ms "$W" run "$OUT/cpu.wasm" $w)
	printf '%-12s native %6d ms   orchard-wasm %7d ms   slowdown %sx\n' "$w" "$n" "$m" "$(ratio "$m" "$n")"
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
	wrk -t2 -c32 -d5s "http://127.0.0.1:$1/" 2>/dev/null | awk '/Requests\/sec/ { print int($2) }'
}

echo "-- example HTTP server, wrk -t2 -c32 -d5s, keep-alive"
for _ in 1 2 3; do
	P=$(port)
	"$OUT/httpd" "$P" >/dev/null 2>&1 &
	NP=$!
	wait_http "$P" && break
	kill $NP 2>/dev/null
	wait $NP 2>/dev/null
done
native=$(wrk_rps "$P")
kill $NP
wait $NP 2>/dev/null
# A random port may be taken: try a few, keeping the app's stderr.
for _ in 1 2 3; do
	P=$(port)
	t0=$(date +%s%N)
	"$W" run --listen "$P" "$B/wasm/examples/httpd.wasm" "$P" >"$OUT/httpd-wasm.log" 2>&1 &
	WP=$!
	wait_http "$P" && break
	kill $WP 2>/dev/null
	wait $WP 2>/dev/null
	echo "orchard-wasm httpd did not come up on port $P: $(tail -n 2 "$OUT/httpd-wasm.log")"
done
startup_ms=$((($(date +%s%N) - t0) / 1000000))
child=$(pgrep -P $WP | head -1)
rss_child=$(awk '/VmRSS/ { print $2 }' "/proc/$child/status" 2>/dev/null)
rss_parent=$(awk '/VmRSS/ { print $2 }' "/proc/$WP/status" 2>/dev/null)
wasm=$(wrk_rps "$P")
rss_child_after=$(awk '/VmRSS/ { print $2 }' "/proc/$child/status" 2>/dev/null)
kill $WP
wait $WP 2>/dev/null
printf 'native httpd %8s req/s   orchard-wasm httpd %8s req/s   wasm/native %s%%\n' "$native" "$wasm" \
	"$(awk -v a="${wasm:-0}" -v b="${native:-1}" 'BEGIN { printf "%.1f", 100 * a / b }')"

echo "-- start-up and memory of orchard-wasm run for the example app"
P=$(port)
t0=$(date +%s%N)
"$OUT/httpd" "$P" >/dev/null 2>&1 &
NP=$!
wait_http "$P"
native_startup_ms=$((($(date +%s%N) - t0) / 1000000))
rss_native=$(awk '/VmRSS/ { print $2 }' "/proc/$NP/status" 2>/dev/null)
kill $NP
wait $NP 2>/dev/null
printf 'start-up to first answer: native %d ms, orchard-wasm %d ms (ratio %s)\n' "$native_startup_ms" "$startup_ms" \
	"$(ratio "$startup_ms" "$native_startup_ms")"
n=$(best_ms "$OUT/cpu" fib 1)
m=$(best_ms "$W" run "$OUT/cpu.wasm" fib 1)
printf 'a trivial command (fib 1), best of 3: native %d ms, orchard-wasm run %d ms (fork, load, validate, sandbox, instantiate)\n' "$n" "$m"
printf 'RSS: native %s KiB; orchard-wasm guest process %s KiB idle, %s KiB after load; supervisor %s KiB\n' \
	"${rss_native:-?}" "${rss_child:-?}" "${rss_child_after:-?}" "${rss_parent:-?}"
