# What the orchard-agent tests share (source after orchardd.sh): the
# binaries, waits, and a publisher "alice" publishing the example httpd as
# alice/pkg/hello/VERSION listening on a port given as its first argument.
# Needs $D (the test's folder), $URL and token() from orchardd.sh.
PKG="$ROOT/$BUILD/orchard-pkg"
AGENT="$ROOT/$BUILD/orchard-agent"
WASM="$ROOT/$BUILD/wasm/examples/httpd.wasm"
[[ -f "$WASM" ]] || make -C "$ROOT" --no-print-directory -s BUILD="$BUILD" "$BUILD/wasm/examples/httpd.wasm" >&2
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# answers PORT: the example app answers HTTP there
answers() { curl -s --max-time 2 "http://127.0.0.1:$1/" | grep -q "Hello from an Orchard"; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS >= end)) && return 1
		sleep 0.1
	done
}
# agent_publisher: keys $D/alice.key (registered as publisher alice) and
# $D/other.key (not registered), and $D/app/app.wasm, the example httpd
agent_publisher() {
	mkdir -p "$D/app"
	"$PKG" keygen --out "$D/alice.key" >/dev/null &&
		"$PKG" keygen --out "$D/other.key" >/dev/null || return 1
	http PUT /depot/publishers/alice -H "Authorization: Bearer $(token depot:write)" "${JSON[@]}" \
		-d "$(jq -n --rawfile k "$D/alice.pub" '{publicKey: $k}')"
	cp "$WASM" "$D/app/app.wasm"
	[[ $STATUS == 20? ]]
}
# pkg VERSION PORT KEY: builds $D/app into alice/pkg/hello/VERSION (listen
# PORT, 16 MiB), signed with KEY, and publishes it
pkg() {
	printf '{"publisher":"alice","name":"hello","version":"%s","args":["%s"],"capabilities":{"listen":[%s],"memoryMiB":16}}' \
		"$1" "$2" "$2" >"$D/app/manifest.json"
	"$PKG" build "$D/app" --key "$3" --out "$D/hello-$1.opkg" >/dev/null &&
		"$PKG" publish "$D/hello-$1.opkg" --url "$URL" --token "$(token depot:write)" \
			--cacert "$TMP/var/pki/root.pem" >/dev/null
}

# What the agent logged and reported: logged PATTERN counts its log lines
# ($D/agent.log); reported JQ reads device $DEV's twin as the operator ($O).
logged() { grep -c "$1" "$D/agent.log"; }
logged_more() { (($(logged "$1") > $2)); }
reported() { http GET "/twins/$DEV" "${O[@]}"; jq -r "$1" <<<"$BODY"; }
reported_is() { [[ "$(reported "$1")" == "$2" ]]; }
