#!/bin/bash
# tests/integration/wasm.sh: orchard-wasm end to end: our WASI guest programs
# (built here with clang-14), bad modules, budgets, grants, the example app.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh

W=$BUILD/orchard-wasm
OUT=$BUILD/wasm/tests
T=$(mktemp -d /tmp/orchard-wasm-test.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$OUT"

# free_ports: a port P with P and P+1 free for TCP and UDP on 127.0.0.1,
# below the kernel's ephemeral range (32768 up), where a connection's
# local port or a TIME_WAIT left by an earlier test would make bind fail.
free_ports() {
	python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 32000)
    try:
        for port in (p, p + 1):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(p)
    break
PY
}

# --- build the guests (test time, by the rules in clients/wasm/module.mk:
# clang-14 to wasm32-wasi for C, wat2wasm for the bad modules) ---
for g in tests/wasm/guests/*.c; do
	n=$(basename "$g" .c)
	if out=$(make --no-print-directory -s BUILD="$BUILD" "$OUT/$n.wasm" 2>&1); then
		tap_ok "build guest $n"
	else
		tap_nok "build guest $n" "$out"
	fi
done
for w in tests/wasm/bad/*.wat; do
	n=$(basename "$w" .wat)
	make --no-print-directory -s BUILD="$BUILD" "$OUT/$n.wasm" >/dev/null 2>&1 || tap_nok "wat2wasm $n"
done

# guest_checks NAME CMD...: runs a guest and turns its PASS/FAIL lines into
# TAP; the run itself must exit 0 and end with "DONE 0 failed".
guest_checks() {
	local name=$1 out rc line
	shift
	out=$("$@" 2>"$T/stderr")
	rc=$?
	while IFS= read -r line; do
		case $line in
		"PASS "*) tap_ok "$name: ${line#PASS }" ;;
		"FAIL "*) tap_nok "$name: ${line#FAIL }" "$line" ;;
		esac
	done <<<"$out"
	if ((rc == 0)) && grep -q '^DONE 0 failed' <<<"$out"; then
		tap_ok "$name: exits 0"
	else
		tap_nok "$name: exits 0" "rc=$rc $(tail -c 1500 "$T/stderr")"
	fi
}

# run_expect NAME WANT_RC STDERR_REGEX CMD...: exit status and one-line reason.
run_expect() {
	local name=$1 want=$2 re=$3 rc
	shift 3
	"$@" >"$T/stdout" 2>"$T/stderr"
	rc=$?
	if [[ $rc != "$want" ]]; then
		tap_nok "$name" "want exit $want, got $rc: $(tail -c 800 "$T/stderr")"
	elif [[ -n $re ]] && ! grep -Eq -e "$re" "$T/stderr"; then
		tap_nok "$name" "stderr does not match /$re/: $(tail -c 800 "$T/stderr")"
	else
		tap_ok "$name"
	fi
}

# load_expect NAME WANT STDERR_REGEX MODULE: a module refused before it runs:
# by run (interp), or already by compile (aot), with the same words.
load_expect() {
	local src=$OUT/$4.wasm
	[[ -e $T/$4.wasm ]] && src=$T/$4.wasm
	if [[ $E == interp ]]; then
		run_expect "$1" "$2" "$3" "$W" run "$src"
	else
		run_expect "$1" "$2" "$3" "$W" compile "$src" -o "$T/aot/$4.cwasm"
	fi
}

# Bad inputs that are not in tests/wasm/bad/.
printf 'this is not wasm' >"$T/text.wasm"
head -c 100 "$OUT/wasi_core.wasm" >"$T/truncated.wasm"
: >"$T/empty.wasm"

# --- compile every module the suite runs (aot) ---
# Compiling is cc per module, seconds each: at -O0 (twice as fast as -O1,
# six times the default -O3, which one module below is compiled and run
# with), two at a time, and kept by module digest in a cache both passes
# share (build and build-san make the same modules), so one pass runs the
# files the other compiled.
mkdir -p "$T/aot"
CACHE=${ORCHARD_CWASM_CACHE:-build/cwasm-cache}
mkdir -p "$CACHE"
# What compiling depends on besides the module: the translator, the glue
# and the container code, and the C compiler.
srckey=$( (cat clients/wasm/aot_* clients/wasm/cwasm.*; cc --version; echo -O0) | sha256sum | cut -c1-16)
# The two passes may run side by side: one compiles, the other waits on
# the lock and then finds every module in the cache.
exec 9>"$CACHE/.lock"
flock 9
todo=()
for m in "$OUT"/*.wasm "$BUILD/wasm/examples/httpd.wasm"; do
	n=$(basename "$m" .wasm)
	case $n in type_error | unknown_import | wrong_signature | simd) continue ;; esac
	key=$srckey-$(sha256sum "$m" | cut -c1-32)
	[[ -s "$CACHE/$key.cwasm" ]] || todo+=("$m:$CACHE/$key.cwasm.$$")
	printf '%s %s\n' "$n" "$key" >>"$T/aot/keys"
done
printf '%s\n' "${todo[@]}" | grep . | xargs -r -P 2 -I{} sh -c \
	'm=${1%%:*}; o=${1#*:}; "$2" compile "$m" -o "$o" -O0 2>"$o.err" && mv "$o" "${o%.*}"' _ {} "$W"
exec 9>&-
while read -r n key; do
	if cp "$CACHE/$key.cwasm" "$T/aot/$n.cwasm" 2>/dev/null; then
		tap_ok "compile $n"
	else
		tap_nok "compile $n" "$(cat "$CACHE/$key".cwasm.*.err 2>/dev/null)"
	fi
done <"$T/aot/keys"
rm -f "$CACHE"/*.cwasm.$$.err

# engine_suite ENGINE: the guests, exit statuses, bad modules and budgets,
# run as WebAssembly (interp) or compiled first (aot: $MD holds .cwasm files).
engine_suite() {
	E=$1
	if [[ $E == interp ]]; then MD=$OUT X=wasm; else MD=$T/aot X=cwasm; fi
	# --- WASI: core ---
	guest_checks "$E: core" "$W" run --timeout 30 --env FOO=bar --env EMPTY= "$MD/wasi_core.$X" alpha "beta gamma"

	# --- WASI: files, rights and escapes under one fresh preopen ---
	rm -rf "$T/sb" "$T/outside"
	mkdir -p "$T/sb/sub" "$T/outside"
	echo secret >"$T/outside/secret.txt"
	echo inside >"$T/sb/inside.txt"
	ln -s "$T/outside/secret.txt" "$T/sb/abs_link"
	ln -s ../outside/secret.txt "$T/sb/rel_link"
	ln -s ../outside "$T/sb/dir_link"
	ln -s inside.txt "$T/sb/in_link"
	guest_checks "$E: fs" "$W" run --timeout 30 --dir "$T/sb:/sb" "$MD/wasi_fs.$X"
	expect_eq "$E: fs: the file outside is untouched" "secret" "$(cat "$T/outside/secret.txt")"
	expect_eq "$E: fs: nothing was created outside" "secret.txt" "$(ls "$T/outside")"

	# --- the two wasi-testsuite gaps (preopen rights, sock_shutdown) ---
	guest_checks "$E: conformance" "$W" run --timeout 30 --dir "$T/sb:/sb" "$MD/conformance.$X"

	# --- sockets: WasmEdge ABI and grants ---
	P=$(free_ports)
	guest_checks "$E: sock" "$W" run --timeout 30 --listen "127.0.0.1:$P" --connect "127.0.0.1:$P" --connect "localhost:$P" \
		"$MD/wasi_sock.$X" "$P" $((P + 1))
	guest_checks "$E: sock-nogrant" "$W" run --timeout 30 "$MD/wasi_sock.$X" nogrant

	# --- exit statuses, stdio ---
	run_expect "$E: exit: proc_exit code passes through" 42 "" "$W" run "$MD/wasi_core.$X" exit42
	run_expect "$E: exit: stderr is the guest's" 0 "^to stderr$" "$W" run "$MD/wasi_core.$X" stderr
	"$W" run "$MD/wasi_core.$X" epipe 2>"$T/stderr" | head -c 1 >/dev/null
	expect_eq "$E: exit: a closed stdout is EPIPE for the guest, not SIGPIPE" 5 "${PIPESTATUS[0]}"
	run_expect "$E: exit: guest trap is 134 with a reason" 134 "^orchard-wasm: trap: " "$W" run "$MD/wasi_core.$X" trap

	# --- bad modules: none harms the parent ---
	load_expect "$E: bad: not wasm" 125 "^orchard-wasm: .*magic" text
	load_expect "$E: bad: empty file" 125 "^orchard-wasm: " empty
	load_expect "$E: bad: truncated" 125 "^orchard-wasm: " truncated
	load_expect "$E: bad: type error" 125 "type mismatch" type_error
	run_expect "$E: bad: huge memory" 125 "memory declares 65536 initial pages" "$W" run "$MD/huge_memory.$X"
	run_expect "$E: bad: huge table" 125 "table declares 10000000 initial elements" "$W" run "$MD/huge_table.$X"
	run_expect "$E: bad: start function traps" 125 "instantiation failed: unreachable" "$W" run "$MD/start_trap.$X"
	run_expect "$E: start function may proc_exit" 7 "" "$W" run "$MD/start_exit.$X"
	load_expect "$E: bad: unknown import" 125 "unknown import: function env.launch_missiles" unknown_import
	load_expect "$E: bad: wrong import signature" 125 "unknown import: function wasi_snapshot_preview1.fd_write" wrong_signature
	run_expect "$E: bad: no _start" 125 "no exported function _start" "$W" run "$MD/no_start.$X"
	run_expect "$E: bad: deep recursion traps" 134 "trap: call stack exhausted" "$W" run "$MD/recurse.$X"
	run_expect "$E: bad: division by zero" 134 "trap: integer divide by zero" "$W" run "$MD/div_zero.$X"
	run_expect "$E: bad: out of bounds load" 134 "trap: out of bounds" "$W" run "$MD/oob.$X"

	# --- budgets ---
	start=$(date +%s%N)
	run_expect "$E: budget: endless loop stopped by --cpu-seconds" 137 "CPU budget of 1 s exceeded" \
		"$W" run --cpu-seconds 1 "$MD/loop.$X"
	ms=$((($(date +%s%N) - start) / 1000000))
	expect "$E: budget: CPU stop came within 5 s (${ms} ms)" test "$ms" -lt 5000
	run_expect "$E: budget: endless loop stopped by --timeout" 137 "wall-clock budget of 1 s exceeded" \
		"$W" run --timeout 1 "$MD/loop.$X"
	run_expect "$E: budget: sleeping guest stopped by --timeout" 137 "wall-clock budget of 0.5 s exceeded" \
		"$W" run --timeout 0.5 "$MD/wasi_core.$X" sleep
	run_expect "$E: budget: C spin loop stopped" 137 "budget" "$W" run --cpu-seconds 1 --timeout 10 "$MD/wasi_core.$X" spin
	run_expect "$E: memory: grow past --max-memory fails in the guest" 99 "" "$W" run --max-memory 16 "$MD/grow.$X"
	run_expect "$E: memory: grow within --max-memory works" 101 "" "$W" run --max-memory 128 "$MD/grow.$X"
	"$W" run --max-memory 16 "$MD/alloc.$X" >"$T/alloc.out" 2>&1
	mib=$(sed -n 's/^allocated \([0-9]*\) MiB$/\1/p' "$T/alloc.out")
	expect "$E: memory: malloc stops under --max-memory 16 (got ${mib:-?} MiB)" test "${mib:-999}" -lt 16 -a "${mib:-0}" -gt 8
	run_expect "$E: memory: 4 GiB declared, over the 256 MiB default" 125 "initial pages" \
		"$W" run "$MD/huge_memory.$X"
}

engine_suite interp
engine_suite aot

# --- command line (once) ---
run_expect "cli: no arguments is a usage error" 2 "usage" "$W"
run_expect "cli: unknown option" 2 "unknown option" "$W" run --frobnicate 1 "$OUT/wasi_core.wasm"
run_expect "cli: bad --listen" 2 "listen" "$W" run --listen nothost:80 "$OUT/wasi_core.wasm"
run_expect "cli: missing module file" 125 "No such file" "$W" run "$T/nope.wasm"
run_expect "validate: a good module" 0 "" "$W" validate "$OUT/wasi_core.wasm"
run_expect "dir: missing host folder" 125 "--dir" "$W" run --dir "$T/nope:/x" "$OUT/wasi_core.wasm"

run_expect "bad: not wasm (validate)" 125 "magic" "$W" validate "$T/text.wasm"
run_expect "bad: truncated (validate)" 125 "^orchard-wasm: " "$W" validate "$T/truncated.wasm"

# --- compiled modules: the file is checked before anything of it runs ---
C=$T/aot/wasi_core.cwasm
"$W" compile "$OUT/wasi_core.wasm" -o "$T/again.cwasm" -O0
expect "aot: compile is reproducible (same inputs, same bytes)" cmp "$C" "$T/again.cwasm"
run_expect "aot: compile at the default level" 0 "" "$W" compile "$OUT/start_exit.wasm" -o "$T/o3.cwasm"
expect "aot: the default level is -O3, recorded" grep -aq "^flags -O3 " "$T/o3.cwasm"
run_expect "aot: the -O3 module runs (its start function exits 7)" 7 "" "$W" run "$T/o3.cwasm"
expect "aot: the header records module digest, wabt, compiler, target and flags" \
	grep -aq "^module-sha256 $(sha256sum "$OUT/wasi_core.wasm" | cut -c1-64)\$" "$C"
for f in wabt cc target flags; do
	expect "aot: header has $f" grep -aEq "^$f .+" "$C"
done
size=$(stat -c %s "$C")
head -c $((size - 1)) "$C" >"$T/cut.cwasm"
run_expect "aot: a truncated .cwasm is refused" 125 "digest mismatch" "$W" run "$T/cut.cwasm"
cp "$C" "$T/flip.cwasm"
printf '\x90' | dd of="$T/flip.cwasm" bs=1 seek=$((size / 2)) conv=notrunc status=none
run_expect "aot: an altered .cwasm is refused" 125 "digest mismatch" "$W" run "$T/flip.cwasm"
# wasi_core prints a PASS line per check when it runs: it printed nothing.
expect_eq "aot: nothing of the altered file ran" "" "$(cat "$T/stdout")"
# A file made for another wabt, with a digest that holds: refused by version.
head -c $((size - 32)) "$C" | sed -b 's/^wabt .*/wabt 0.0.1/' >"$T/old.body"
cat "$T/old.body" >"$T/old.cwasm"
openssl dgst -sha256 -binary "$T/old.body" >>"$T/old.cwasm"
run_expect "aot: a .cwasm from another wabt is refused" 125 "made for .*wabt 0.0.1.*compile it again" "$W" run "$T/old.cwasm"
head -c $((size - 32)) "$C" | sed -b 's/^target .*/target riscv64-linux-gnu/' >"$T/other.body"
cat "$T/other.body" >"$T/other.cwasm"
openssl dgst -sha256 -binary "$T/other.body" >>"$T/other.cwasm"
run_expect "aot: a .cwasm for another target is refused" 125 "riscv64-linux-gnu" "$W" run "$T/other.cwasm"
run_expect "aot: validate checks a .cwasm too" 125 "digest mismatch" "$W" validate "$T/flip.cwasm"
run_expect "aot: validate accepts a good .cwasm" 0 "" "$W" validate "$C"
# Cross target (aarch64 with Debian's gcc-aarch64-linux-gnu): the payload is an
# AArch64 shared object (ELF e_machine 183), and this x86-64 build refuses it.
if command -v aarch64-linux-gnu-gcc >/dev/null; then
	run_expect "aot: compile --target aarch64-linux-gnu" 0 "" \
		"$W" compile "$OUT/wasi_core.wasm" -o "$T/arm.cwasm" --target aarch64-linux-gnu -O0
	expect "aot: the aarch64 .cwasm records its target" grep -aq "^target aarch64-linux-gnu$" "$T/arm.cwasm"
	elf=$(grep -obUaP '\x7fELF' "$T/arm.cwasm" | head -1 | cut -d: -f1)
	expect_eq "aot: the aarch64 payload is an AArch64 ELF" 183 \
		"$(od -An -tu2 -j $((${elf:-0} + 18)) -N2 "$T/arm.cwasm" | tr -d ' ')"
	[[ $(uname -m) != aarch64 ]] &&
		run_expect "aot: a .cwasm for aarch64 is refused here" 125 "aarch64-linux-gnu.*compile it again" \
			"$W" run "$T/arm.cwasm"
else
	tap_ok "aot: compile --target aarch64-linux-gnu # SKIP no aarch64-linux-gnu-gcc"
fi
run_expect "interp: a SIMD module runs" 0 "" "$W" run "$OUT/simd.wasm"
run_expect "aot compile: a module wasm2c cannot translate is refused cleanly" 125 \
	"^orchard-wasm: wasm2c \(wabt .*\) cannot translate this module" \
	"$W" compile "$OUT/simd.wasm" -o "$T/simd.cwasm"
expect "aot compile: nothing left of it" test ! -e "$T/simd.cwasm"
run_expect "aot compile: a missing compiler" 1 "not found" \
	env ORCHARD_WASM_CC=/nonexistent/cc "$W" compile "$OUT/wasi_core.wasm" -o "$T/x.cwasm" -O0
printf '#!/bin/sh\n[ "$1" = --version ] && { echo fakecc 1; exit 0; }\necho "app.c:1:1: error: out of luck" >&2\nexit 1\n' >"$T/fakecc"
chmod +x "$T/fakecc"
run_expect "aot compile: a failing compiler, its error line" 1 "fakecc failed \(exit 1\): app.c:1:1: error: out of luck" \
	env ORCHARD_WASM_CC="$T/fakecc" "$W" compile "$OUT/wasi_core.wasm" -o "$T/x.cwasm" -O0
expect "aot compile: a failed compile leaves no output" test ! -e "$T/x.cwasm"
run_expect "aot compile: an unwritable output" 1 "No such file" \
	"$W" compile "$OUT/wasi_core.wasm" -o "$T/nope/x.cwasm" -O0
run_expect "aot compile: usage" 2 "usage" "$W" compile "$OUT/wasi_core.wasm"
# A full disk, where a small tmpfs can be mounted (root): nothing is left behind.
mkdir -p "$T/full"
if mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
	run_expect "aot compile: a full disk is a clean error" 1 "No space left" \
		"$W" compile "$OUT/wasi_core.wasm" -o "$T/full/x.cwasm" -O0
	expect_eq "aot compile: a full disk leaves nothing" "" "$(ls -A "$T/full")"
	TMPDIR=$T/full run_expect "aot compile: a full temporary folder is a clean error" 1 "No space left" \
		"$W" compile "$OUT/wasi_core.wasm" -o "$T/x.cwasm" -O0
	umount "$T/full"
else
	tap_ok "aot compile: full disk # SKIP cannot mount a tmpfs here"
fi

# serve FILE OUT: runs the example httpd from FILE on a free port, with its
# output to OUT, until it answers; on another port if that one was taken
# meanwhile (the other pass runs beside this one). Sets SPORT and SPID.
serve() {
	local try
	for try in 1 2 3; do
		SPORT=$(free_ports)
		"$W" run --listen "$SPORT" "$1" "$SPORT" >"$2" 2>&1 &
		SPID=$!
		PIDS+=($SPID)
		for _ in $(seq 1 200); do
			curl -s -o /dev/null "http://127.0.0.1:$SPORT/" && return 0
			kill -0 "$SPID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	done
	return 1
}

# --- the example app: curl it ---
serve "$BUILD/wasm/examples/httpd.wasm" "$T/httpd.out"
HP=$SPORT
child=$(pgrep -P "$SPID" | head -1)
expect "sandbox: the app's process runs under a seccomp filter" grep -Eq '^Seccomp:[[:space:]]+2' "/proc/$child/status"
expect "sandbox: the app's process has no_new_privs" grep -Eq '^NoNewPrivs:[[:space:]]+1' "/proc/$child/status"
expect "sandbox: the app's process has a CPU-free, core-free rlimit set" grep -Eq '^Max core file size +0 +0' "/proc/$child/limits"
expect_eq "httpd: GET / answers" "Hello from an Orchard WebAssembly app!" "$(curl -s "http://127.0.0.1:$HP/")"
expect_eq "httpd: unknown path is 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/nope")"
expect_eq "httpd: keep-alive serves several requests on one connection" "3" \
	"$(curl -s "http://127.0.0.1:$HP/" "http://127.0.0.1:$HP/" "http://127.0.0.1:$HP/" | grep -c Hello)"
run_expect "httpd: port not granted is refused" 1 "Permission denied" \
	"$W" run --listen $((HP + 1)) --timeout 5 "$BUILD/wasm/examples/httpd.wasm" $((HP + 2))
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
expect "httpd: SIGTERM stops app and supervisor" grep -q "stopped by" "$T/httpd.out"

# A supervisor killed outright takes its app with it.
serve "$BUILD/wasm/examples/httpd.wasm" /dev/null
sup=$SPID
app=$(pgrep -P "$sup" | head -1)
kill -9 "$sup"
wait "$sup" 2>/dev/null
# gone, or a zombie waiting for whoever inherited it to reap it
gone() { [[ ! -e /proc/$1/stat ]] || [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
for _ in $(seq 1 50); do gone "$app" && break; sleep 0.02; done
expect "supervisor SIGKILLed: the app is gone too" gone "$app"

# --- the example app, compiled ---
serve "$T/aot/httpd.cwasm" "$T/httpd-aot.out"
HA=$SPORT apid=$SPID
expect_eq "aot: httpd GET / answers" "Hello from an Orchard WebAssembly app!" "$(curl -s "http://127.0.0.1:$HA/")"
child=$(pgrep -P "$apid" | head -1)
expect "aot: the compiled app's process runs under the seccomp filter" grep -Eq '^Seccomp:[[:space:]]+2' "/proc/$child/status"
kill "$apid" 2>/dev/null
wait "$apid" 2>/dev/null

# --- valgrind (plain pass only): the engine and WASI host in-process ---
if [[ $BUILD == build ]] && command -v valgrind >/dev/null; then
	E=$BUILD/tests/wasm/embed_run
	vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
	out=$(EMBED_ENV=FOO=bar "${vg[@]}" "$E" "$OUT/wasi_core.wasm" alpha "beta gamma" 2>&1)
	rc=$?
	# EMPTY is not set here, so exactly one check fails on purpose.
	if ((rc == 1)) && grep -q "^DONE 1 failed" <<<"$out"; then tap_ok "valgrind: core guest"; else tap_nok "valgrind: core guest" "rc=$rc $out"; fi
	# valgrind 3.19 does not know openat2 (it answers ENOSYS), so the file
	# guest cannot run under it: path resolution is covered by the ASan pass.
	out=$(EMBED_PAGES=128 "${vg[@]}" "$E" "$OUT/alloc.wasm" 2>&1)
	rc=$?
	if ((rc == 0)) && grep -q "^allocated" <<<"$out"; then tap_ok "valgrind: alloc guest"; else tap_nok "valgrind: alloc guest" "rc=$rc $(tail -c 1500 <<<"$out")"; fi
	out=$("${vg[@]}" "$BUILD/tests/wasm/test_wasm" 2>&1)
	rc=$?
	if ((rc == 0)); then tap_ok "valgrind: unit tests of the engine API"; else tap_nok "valgrind: unit tests" "rc=$rc $(tail -c 1500 <<<"$out")"; fi
	# Compiled code in-process too (recurse: valgrind reports its own stack
	# overflow on the way, so that one is left to the ASan pass).
	out=$(EMBED_ENV=FOO=bar "${vg[@]}" "$E" "$T/aot/wasi_core.cwasm" alpha "beta gamma" 2>&1)
	rc=$?
	if ((rc == 1)) && grep -q "^DONE 1 failed" <<<"$out"; then tap_ok "valgrind: compiled core guest"; else tap_nok "valgrind: compiled core guest" "rc=$rc $(grep -E 'FAIL|==' <<<"$out" | head -20)"; fi
	for m in start_trap oob div_zero huge_memory; do
		"${vg[@]}" "$E" "$T/aot/$m.cwasm" >/dev/null 2>"$T/vg.err"
		rc=$?
		if ((rc != 99 && rc != 0)) && ! grep -q "==[0-9]*==" "$T/vg.err"; then tap_ok "valgrind: compiled bad module $m"; else tap_nok "valgrind: compiled bad module $m" "rc=$rc $(tail -c 1500 "$T/vg.err")"; fi
	done
	for m in recurse start_trap unknown_import type_error oob huge_memory; do
		"${vg[@]}" "$E" "$OUT/$m.wasm" >/dev/null 2>"$T/vg.err"
		rc=$?
		if ((rc != 99 && rc != 0)) && ! grep -q "==[0-9]*==" "$T/vg.err"; then tap_ok "valgrind: bad module $m"; else tap_nok "valgrind: bad module $m" "rc=$rc $(tail -c 1500 "$T/vg.err")"; fi
	done
fi
tap_done
