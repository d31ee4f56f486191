# Test fixtures for orchardd: a private PostgreSQL in a temporary folder and
# an orchardd on a free port. Source after tap.sh; call fixture_cleanup on exit.
#   pg_start            starts PostgreSQL, exports ORCHARD_DATABASE_URL, PGDIR
#   pg_admin SQL        runs SQL as the cluster's superuser
#   orchardd_start ARGS starts orchardd (under valgrind when VALGRIND=1),
#                       exports URL, CURL (curl with the dev root), OLOG
#   orchardd_stop       SIGTERM, waits; returns orchardd's exit status
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d /tmp/orchard-test.XXXXXX)
chmod 755 "$TMP"
ORCHARDD="$ROOT/$BUILD/orchardd"
OPID=

fixture_cleanup() {
	[[ -n "$OPID" ]] && { kill -9 "$OPID" && wait "$OPID"; } 2>/dev/null
	"$ROOT/scripts/pg-cluster" stop "$TMP/db" 2>/dev/null
	rm -rf "$TMP"
}

# pg_start [--durable]: a private cluster under $TMP, fsync and
# synchronous_commit off unless --durable (benchmarks that write)
pg_start() {
	"$ROOT/scripts/pg-cluster" start "$TMP/db" $([[ "${1:-}" == --durable ]] || echo --fast) >&2 || return 1
	export PGDIR="$TMP/db"
	export ORCHARD_DATABASE_URL=$("$ROOT/scripts/pg-cluster" url "$TMP/db")
}
pg_stop() { "$ROOT/scripts/pg-cluster" stop "$TMP/db"; }
# pg_admin SQL: runs SQL as the cluster's superuser (orchard is a plain role)
pg_admin() { "$ROOT/scripts/pg-cluster" admin "$TMP/db" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# listen_ports LOG: the ports an orchardd log says it listens on, one a line
listen_ports() { grep -o '"msg":"listening".*"port":"[0-9]*"' "$1" | grep -o '[0-9]*"$' | tr -d '"'; }

orchardd_start() {
	local log="$TMP/orchardd.$RANDOM.log" i
	local wrap=()
	[[ "${VALGRIND:-}" == 1 ]] && wrap=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
		--show-leak-kinds=definite --error-exitcode=99 --log-file="$TMP/valgrind.log")
	: >"$log" # before the child opens it, so the first grep finds a file
	"${wrap[@]}" "$ORCHARDD" --data-dir "$TMP/var" --listen 127.0.0.1:0 "$@" 2>"$log" &
	OPID=$!
	for i in $(seq 1 300); do
		PORT=$(listen_ports "$log")
		[[ -n "$PORT" ]] && break
		kill -0 "$OPID" 2>/dev/null || break
		sleep 0.05
	done
	OLOG=$log
	if [[ -z "$PORT" ]]; then
		cat "$log" >&2
		return 1
	fi
	export URL="https://127.0.0.1:$PORT" OLOG
	CURL=(curl -sS --max-time 20 --cacert "$TMP/var/pki/root.pem")
}

# free_port: a TCP port nobody listens on now (the kernel's pick)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# orchardd_mqtt_up: waits up to 20 s for orchardd's backend connection to
# its MQTT broker (ORCHARD_MQTT_LISTEN, or --mqtt-broker).
orchardd_mqtt_up() {
	for _ in $(seq 1 400); do
		grep -q '"msg":"mqtt backend connected"' "$OLOG" && return 0
		sleep 0.05
	done
	return 1
}

# orchardd_mqtt_start [ARGS...]: orchardd with its own broker, devices with
# a SAS on MPORT and X.509 devices on XPORT (free ports), its backend
# connected.
orchardd_mqtt_start() {
	MPORT=$(free_port) XPORT=$(free_port)
	ORCHARD_MQTT_LISTEN=127.0.0.1:$MPORT ORCHARD_MQTT_X509_LISTEN=$XPORT orchardd_start "$@" &&
		orchardd_mqtt_up
}

orchardd_stop() {
	local rc
	kill -TERM "$OPID"
	wait "$OPID"
	rc=$?
	OPID=
	return $rc
}

# token SCOPE... : issues a token with those scopes, prints it
token() {
	local args=() s
	for s in "$@"; do args+=(--scope "$s"); done
	"$ORCHARDD" --data-dir "$TMP/var" token issue "${args[@]}" --ttl "${TTL:-1h}" 2>/dev/null
}

# token_jti TOKEN: the jti claim of a JWT (base64url, padded for base64 -d)
token_jti() {
	local c
	c=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while ((${#c} % 4)); do c+="="; done
	base64 -d <<<"$c" | jq -r .jti
}

# http METHOD PATH [curl args...]: sets STATUS, BODY, HEADERS
http() {
	local method=$1 path=$2
	shift 2
	local out
	out=$("${CURL[@]}" -X "$method" -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' "$@" "$URL$path")
	STATUS=$out
	BODY=$(cat "$TMP/body")
	HEADERS=$(tr -d '\r' <"$TMP/headers")
}

# expect_problem NAME STATUS TYPE-SUFFIX: checks the last http call
expect_problem() {
	local t
	t=$(jq -r .type <<<"$BODY" 2>/dev/null)
	if [[ "$STATUS" == "$2" && "$t" == "https://orchard.dev/problems/$3" ]] &&
		grep -qi '^content-type: application/problem+json' <<<"$HEADERS"; then
		tap_ok "$1"
	else
		tap_nok "$1" "want $2 $3, got $STATUS $BODY"
	fi
}
