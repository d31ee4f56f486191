# TAP helpers for shell test scripts: source it, call ok/nok/expect, end
# with tap_done. ORCHARD_BUILD names the build folder (build or build-san).
TAP_N=0
TAP_FAILED=0
BUILD=${ORCHARD_BUILD:-build}

tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
tap_nok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	[[ -n "${2:-}" ]] && echo "# $2" | head -c 2000 >&2
	return 0
}
# expect NAME CMD...: passes when CMD exits 0.
expect() {
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1); then tap_ok "$name"; else tap_nok "$name" "$out"; fi
}
# expect_fail NAME CMD...: passes when CMD exits non-zero.
expect_fail() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then tap_nok "$name" "succeeded"; else tap_ok "$name"; fi
}
# expect_eq NAME WANT GOT
expect_eq() {
	if [[ "$2" == "$3" ]]; then tap_ok "$1"; else tap_nok "$1" "want [$2] got [$3]"; fi
}
tap_done() { echo "1..$TAP_N"; ((TAP_FAILED == 0)); }
