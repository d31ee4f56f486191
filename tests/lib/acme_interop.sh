# ACME interop fixtures for real clients (certbot, lego): free ports, a DNS
# server that answers 127.0.0.1 for every name (pebble-challtestsrv with
# its responders off), and an orchardd that validates on the client's ports.
# Source after orchardd.sh.
#   acme_interop_start CLIENT
#                          skips the test (exit 0) without CLIENT or
#                          pebble-challtestsrv; else starts PostgreSQL, the
#                          resolver and orchardd; sets HTTP_PORT, TLS_PORT,
#                          DIR, ROOTPEM; exits the test when one fails
#   client_run LABEL LOG CMD...
#                          one TAP line: CMD (60 s at most) succeeded; else
#                          the tails of LOG and orchardd's log
#   free_port              prints a port free for TCP and UDP on 127.0.0.1
#   acme_dns_start         starts the resolver; sets DNS_PORT, DNS_PID
#   acme_orchardd_start HTTP_PORT TLS_PORT
#                          orchardd validating http-01 on HTTP_PORT and
#                          tls-alpn-01 on TLS_PORT; sets DIR (directory URL)

free_port() {
	python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()'
}

acme_dns_start() {
	local mgmt i
	DNS_PORT=$(free_port)
	mgmt=$(free_port)
	pebble-challtestsrv -http01 "" -https01 "" -tlsalpn01 "" \
		-dns01 "127.0.0.1:$DNS_PORT" -management "127.0.0.1:$mgmt" -defaultIPv6 "" \
		-defaultIPv4 127.0.0.1 >"$TMP/challtestsrv.log" 2>&1 &
	DNS_PID=$!
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$mgmt") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

acme_dns_stop() { [[ -n "${DNS_PID:-}" ]] && kill "$DNS_PID" && wait "$DNS_PID"; } 2>/dev/null

acme_orchardd_start() {
	ORCHARD_ACME_HTTP_PORT=$1 ORCHARD_ACME_TLS_PORT=$2 \
		ORCHARD_ACME_RESOLVER="127.0.0.1:$DNS_PORT" orchardd_start || return 1
	DIR="$URL/acme/directory"
}

acme_interop_start() {
	trap 'acme_dns_stop; fixture_cleanup' EXIT
	if ! command -v "$1" >/dev/null || ! command -v pebble-challtestsrv >/dev/null; then
		echo "1..0 # SKIP $1 or pebble-challtestsrv not installed"
		exit 0
	fi
	pg_start || { tap_nok "postgres starts"; tap_done; exit 1; }
	acme_dns_start || { tap_nok "pebble-challtestsrv starts"; tap_done; exit 1; }
	HTTP_PORT=$(free_port)
	TLS_PORT=$(free_port)
	acme_orchardd_start "$HTTP_PORT" "$TLS_PORT" || { tap_nok "orchardd starts"; tap_done; exit 1; }
	ROOTPEM="$TMP/var/pki/root.pem"
}

client_run() {
	local label=$1 log=$2
	shift 2
	if timeout 60 "$@" >"$TMP/client.out" 2>&1; then
		tap_ok "$label"
	else
		tap_nok "$label"
		tail -30 "$TMP/client.out" "$log" >&2
		tail -20 "$OLOG" >&2
	fi
}
