#!/bin/bash
# bench/agent.sh: orchard-agent (docs/agent.md), in one run against a real
# orchardd and PostgreSQL:
#   - power-on to app serving per device, p50/p99 over N fresh agents
#     (symmetric keys from one enrollment group whose initial twin names
#     the app): DPS register -> twin -> package download -> verify -> the
#     app answers HTTP on its port;
#   - app switch time (operator PATCH of desired -> new port answers);
#   - the agent's RSS while its app runs in a child (VmRSS, and where it
#     goes: heap, other anonymous, files), and the binary's size;
#   - the example app's requests/s in the agent, compiled (AOT) and
#     interpreted, next to the same C built natively (wrk, keep-alive).
# Figures only: no thresholds. BENCH_AGENTS (default 20), BENCH_SWITCHES
# (default 10), BENCH_SECONDS (wrk, default 5).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${ORCHARD_BUILD:-build}
. tests/lib/tap.sh >/dev/null
. tests/lib/orchardd.sh
. tests/lib/dps.sh
N=${BENCH_AGENTS:-20}
NSW=${BENCH_SWITCHES:-10}
SECS=${BENCH_SECONDS:-5}
AGENT=$BUILD/orchard-agent
PKG=$BUILD/orchard-pkg
APID="" NPID=""
bench_cleanup() {
	[[ -n "$APID" ]] && { kill -9 "$APID" && wait "$APID"; } 2>/dev/null
	[[ -n "$NPID" ]] && { kill "$NPID" && wait "$NPID"; } 2>/dev/null
	fixture_cleanup
}
trap bench_cleanup EXIT
make -s BUILD="$BUILD" "$AGENT" "$PKG" "$BUILD/orchard-wasm" "$BUILD/wasm/examples/httpd.wasm" >/dev/null || exit 1
D=$(mktemp -d "$TMP/agent.XXXX")
mkdir -p "$D/app"
clang-14 -O2 clients/wasm/examples/httpd.c -o "$D/httpd-native" || exit 1

now_ms() { echo $(($(date +%s%N) / 1000000)); }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }
wait_answers() { # PORT SECONDS
	local end=$(($(now_ms) + $2 * 1000))
	until answers "$1"; do
		(($(now_ms) > end)) && return 1
		sleep 0.005
	done
}
# pct P: the P-th percentile of the numbers on stdin (nearest rank)
pct() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i] }'; }
wrk_rps() { wrk -t2 -c32 -d"${SECS}s" "http://127.0.0.1:$1/" 2>/dev/null | awk '/Requests\/sec/ { print int($2) }'; }

pg_start >/dev/null || exit 1
orchardd_start || exit 1
O=(-H "Authorization: Bearer $(token all)")
SCOPE=$(psql_q "SELECT value FROM dps_settings WHERE name = 'id_scope'")
TARGET=$(uname -m)-linux-gnu
P1=$(freeport) P2=$(freeport)

"$PKG" keygen --out "$D/alice.key" >/dev/null
http PUT /depot/publishers/alice "${O[@]}" "${JSON[@]}" -d "$(jq -n --rawfile k "$D/alice.pub" '{publicKey: $k}')"
cp "$BUILD/wasm/examples/httpd.wasm" "$D/app/app.wasm"
for v in "1.0.0:$P1" "2.0.0:$P2"; do
	printf '{"publisher":"alice","name":"hello","version":"%s","args":["%s"],"capabilities":{"listen":[%s],"memoryMiB":16}}' \
		"${v%:*}" "${v#*:}" "${v#*:}" >"$D/app/manifest.json"
	"$PKG" build "$D/app" --key "$D/alice.key" --out "$D/hello-${v%:*}.opkg" >/dev/null &&
		"$PKG" publish "$D/hello-${v%:*}.opkg" --url "$URL" --token "$(token depot:write)" \
			--cacert "$TMP/var/pki/root.pem" >/dev/null || exit 1
done
GK=$(head -c 32 /dev/urandom | base64 -w0)
APP='{"package":"alice/pkg/hello/1.0.0","grants":{"listen":['"$P1,$P2"'],"memoryMiB":32}}'
http PUT "/enrollmentGroups/bench?$AV" "${O[@]}" "${JSON[@]}" -d '{"enrollmentGroupId":"bench",
	"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"'"$GK"'"}},
	"initialTwin":{"properties":{"desired":{"app":'"$APP"'}}}}'
[[ "$STATUS" == 200 || "$STATUS" == 201 ]] || { echo "enrollment group: $STATUS $BODY"; exit 1; }
# The depot compiles the module in the background (default -O2); devices
# started before it is ready run the interpreter, so wait for it.
t0=$(now_ms)
for _ in $(seq 1 600); do
	http GET /depot/packages/alice/hello/1.0.0/compiled "${O[@]}"
	st=$(jq -r --arg t "$TARGET" '.compiled[] | select(.target == $t) | .state' <<<"$BODY")
	[[ -n "$st" && "$st" != compiling ]] && break
	sleep 0.2
done
echo "the depot's compiled form: $st after $(($(now_ms) - t0)) ms"

cfg() { # DEVICE
	cat <<CFG
url = $URL
id_scope = $SCOPE
ca_file = $TMP/var/pki/root.pem
state_dir = $D/$1
publisher_key = $D/alice.pub
registration_id = $1
symmetric_key = $(dps_derive "$GK" "$1")
CFG
}
start_agent() { # DEVICE
	[[ -f "$D/$1.conf" ]] || cfg "$1" >"$D/$1.conf"
	"$AGENT" --config "$D/$1.conf" >>"$D/$1.log" 2>&1 &
	APID=$!
}
stop_agent() {
	kill -TERM "$APID" && wait "$APID"
	APID=
}

echo "-- power-on to app serving (fresh device: DPS register, twin, download, verify, start), $N agents in turn"
for i in $(seq 1 "$N"); do
	t0=$(now_ms)
	start_agent "dev-$i"
	wait_answers "$P1" 30 || { echo "dev-$i: no answer"; tail -5 "$D/dev-$i.log"; exit 1; }
	echo $(($(now_ms) - t0)) >>"$D/poweron"
	stop_agent
done
printf 'power-on to serving  p50 %5d ms   p99 %5d ms   max %5d ms\n' "$(pct 50 <"$D/poweron")" \
	"$(pct 99 <"$D/poweron")" "$(pct 100 <"$D/poweron")"

echo "-- app switch (PATCH desired -> the new port answers), $NSW switches"
start_agent dev-1
wait_answers "$P1" 30 || exit 1
CUR=$P1 # the port of the version desired now: an odd BENCH_SWITCHES ends on P2
for i in $(seq 1 "$NSW"); do
	if ((i % 2)); then v=2.0.0 p=$P2; else v=1.0.0 p=$P1; fi
	t0=$(now_ms)
	http PATCH /twins/dev-1 "${O[@]}" "${JSON[@]}" -d '{"properties":{"desired":{"app":{"package":"alice/pkg/hello/'$v'"}}}}'
	wait_answers "$p" 20 || { echo "switch to $v: no answer"; exit 1; }
	echo $(($(now_ms) - t0)) >>"$D/switch"
	CUR=$p
done
printf 'app switch           p50 %5d ms   p99 %5d ms\n' "$(pct 50 <"$D/switch")" "$(pct 99 <"$D/switch")"

echo "-- footprint (the agent alone; its app runs in a child process)"
wait_answers "$CUR" 10
sleep 1
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# where the agent's resident pages are: kB by kind of mapping
where() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6 ? $6 : "[anon]") }
	     /^Rss:/ { if (name ~ /orchard-agent$/) k = "binary"; else if (name ~ /\.so/) k = "shared libraries";
	               else if (name == "[heap]") k = "heap"; else if (name == "[stack]") k = "stack"; else k = "other anonymous";
	               s[k] += $2 }
	     END { for (k in s) printf "  %-18s %6d kB\n", k, s[k] }' "/proc/$1/smaps" | sort -k3 -rn
}
CHILD=$(pgrep -P "$APID" | head -1)
printf 'agent RSS %d kB with its app running (the app child: %d kB, linear memory of at most 16 MiB)\n' \
	"$(rss "$APID")" "$(rss "$CHILD")"
where "$APID"
awk '/^Pss:/ { p = $2 } /^Private_(Clean|Dirty):/ { u += $2 } END { printf "  (PSS %d kB, private %d kB: the rest is shared: library pages, and pages the forked app still shares)\n", p, u }' "/proc/$APID/smaps_rollup"
if [[ -n "${BENCH_VERBOSE:-}" ]]; then
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6 ? $6 : "[anon]") } /^Rss:/ { s[name] += $2 }
	     END { for (k in s) printf "    %6d kB %s\n", s[k], k }' "/proc/$APID/smaps" | sort -rn | head -25
fi
cp "$AGENT" "$D/stripped" && strip "$D/stripped"
printf 'binary %d KiB (%d KiB stripped)\n' $(($(stat -c %s "$AGENT") / 1024)) $(($(stat -c %s "$D/stripped") / 1024))

echo "-- the example app's requests/s (wrk -t2 -c32, ${SECS} s, keep-alive)"
engine() { http GET /twins/dev-1 "${O[@]}"; jq -r '.properties.reported.app.engine' <<<"$BODY"; }
e1=$(engine)
rps_in_agent=$(wrk_rps "$CUR")
# The same device with a depot key pinned that verifies nothing: the agent
# refuses the compiled form and interprets the module.
stop_agent
cp "$D/dev-1/depot.pub" "$D/depot.pub.good"
"$PKG" keygen --out "$D/nobody.key" >/dev/null
cp "$D/nobody.pub" "$D/dev-1/depot.pub"
start_agent dev-1
wait_answers "$CUR" 30 || exit 1
sleep 1
e2=$(engine)
rps_interp=$(wrk_rps "$CUR")
PN=$(freeport)
"$D/httpd-native" "$PN" >/dev/null 2>&1 &
NPID=$!
wait_answers "$PN" 10
rps_native=$(wrk_rps "$PN")
kill "$NPID" && wait "$NPID" 2>/dev/null
NPID=
printf 'native %8d req/s\n' "$rps_native"
of_native() { awk -v a="$1" -v b="$rps_native" 'BEGIN { printf "%.2f", a / (b ? b : 1) }'; }
printf 'agent, %-11s %8d req/s (%s of native)\n' "$e1" "$rps_in_agent" "$(of_native "$rps_in_agent")"
printf 'agent, %-11s %8d req/s (%s of native)\n' "$e2" "$rps_interp" "$(of_native "$rps_interp")"
stop_agent
