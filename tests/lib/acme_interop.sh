# ACME interop fixtures for real clients (certbot, lego): free ports, a DNS
# server that answers 127.0.0.1 for every name (pebble-challtestsrv with
# its responders off), and an orchardd that validates on the client's ports.
# Source after orchardd.sh.
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
