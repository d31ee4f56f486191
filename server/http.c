/* libmicrohttpd setup. The path reaches the router undecoded (identity
 * unescape), so an encoded '/' inside a DPS registration ID stays inside
 * its segment; the router decodes each captured segment itself. */
#include "server/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/log.h"
#include "server/acme.h"
#include "server/edge.h"
#include "server/jobs.h"
#include "server/request.h"
#include "server/server.h"

#define HTTP_MAX_LISTEN 8
/* GnuTLS's NORMAL still offers TLS 1.0 and 1.1 (retired by RFC 8996), CBC
 * suites, SHA-1 MACs and static RSA key exchange: TLS 1.2 keeps only
 * ECDHE with AEAD ciphers (RFC 9325 4.2), TLS 1.3 is unchanged. */
#define HTTP_TLS_PRIORITIES                                                                        \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"        \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"
/* Descriptors kept back from connections: PostgreSQL, files, listeners. */
#define HTTP_FD_RESERVE 1024

struct http {
	struct MHD_Daemon *d[HTTP_MAX_LISTEN];
	int n;
};

static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* The request pipeline, with the edge told when a request is fully in
 * (its deadline stops) and when its response is done (the next starts). */
static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **req_cls)
{
	if (*req_cls != NULL && *upload_data_size == 0)
		edge_request_received(conn);
	return request_access(cls, conn, url, method, version, upload_data, upload_data_size,
			      req_cls);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			   enum MHD_RequestTerminationCode toe)
{
	edge_request_done(conn);
	request_completed(cls, conn, req_cls, toe);
}

/* Raises RLIMIT_NOFILE so ndaemons × want connections fit; returns the
 * per-daemon connection limit the hard limit allows. */
static unsigned http_raise_nofile(long want, int ndaemons)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want * (rlim_t)ndaemons + HTTP_FD_RESERVE;
	char have[24], wanted[24];

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return (unsigned)want;
	if (rl.rlim_cur < need) {
		rl.rlim_cur =
			rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= need)
		return (unsigned)want;
	snprintf(have, sizeof have, "%lu", (unsigned long)rl.rlim_cur);
	snprintf(wanted, sizeof wanted, "%lu", (unsigned long)need);
	log_kv(LOG_WARN, "open-file limit below max-connections; serving fewer connections",
	       "rlimit_nofile", have, "wanted", wanted, NULL);
	long fit = ((long)rl.rlim_cur - HTTP_FD_RESERVE) / ndaemons;
	return (unsigned)(fit < 64 ? 64 : fit);
}

/* Splits "host:port" or "[v6]:port" and resolves it numerically. */
static int listen_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], *port;
	struct addrinfo hints = {0}, *ai = NULL;

	if (strlen(spec) >= sizeof host)
		return -1;
	memcpy(host, spec, strlen(spec) + 1);
	port = strrchr(host, ':');
	if (port == NULL)
		return -1;
	*port++ = '\0';
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(h, port, &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

struct http *http_start(struct server *srv, const char *cert_pem, const char *key_pem)
{
	struct http *h = calloc(1, sizeof *h);
	char *list = strdup(srv->cfg.listen), *next;

	if (h == NULL || list == NULL)
		goto fail;
	srv->edge = edge_new(srv->cfg.request_deadline);
	if (srv->edge == NULL)
		goto fail;
	int ndaemons = 1;
	for (const char *c = list; *c; c++)
		ndaemons += *c == ',';
	unsigned conn_limit = http_raise_nofile(srv->cfg.max_connections, ndaemons);
	for (char *spec = list; spec != NULL; spec = next) {
		next = strchr(spec, ',');
		if (next != NULL)
			*next++ = '\0';
		struct sockaddr_storage ss;
		socklen_t sslen;
		char port[16];
		if (h->n == HTTP_MAX_LISTEN || listen_addr(spec, &ss, &sslen) != 0) {
			log_kv(LOG_ERROR, "bad listen address (want host:port)", "listen", spec,
			       NULL);
			goto fail;
		}
		h->d[h->n] = MHD_start_daemon(
			MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
				(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			0, NULL, NULL, http_access, srv,
			/* First, or libmicrohttpd logs the options before it to stderr. */
			MHD_OPTION_EXTERNAL_LOGGER, edge_mhd_log, srv->edge, MHD_OPTION_SOCK_ADDR,
			&ss, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->cfg.threads,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->cfg.conn_timeout,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)srv->cfg.conn_memory,
			/* No ALPN: HTTP/1.1 is all libmicrohttpd speaks, and GnuTLS
			 * keeps the offer's copy in every session (309 bytes a
			 * waiting connection, measured with heaptrack). */
			MHD_OPTION_TLS_NO_ALPN, 1, MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
			MHD_OPTION_HTTPS_MEM_KEY, key_pem,
			/* Any CA makes GnuTLS ask for a client certificate (DPS X.509
			 * devices) without requiring or checking one: that is
			 * server/client_cert.c's work. */
			MHD_OPTION_HTTPS_MEM_TRUST, cert_pem, MHD_OPTION_HTTPS_PRIORITIES,
			HTTP_TLS_PRIORITIES, MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, edge_notify_connection, srv->edge,
			MHD_OPTION_URI_LOG_CALLBACK, edge_uri_log, srv->edge,
			MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			(unsigned)srv->cfg.max_connections_per_ip, MHD_OPTION_LISTEN_BACKLOG_SIZE,
			1024U, MHD_OPTION_END);
		if (h->d[h->n] == NULL) {
			log_kv(LOG_ERROR, "cannot listen (address in use, or bad TLS pair?)",
			       "listen", spec, NULL);
			goto fail;
		}
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(h->d[h->n], MHD_DAEMON_INFO_BIND_PORT);
		snprintf(port, sizeof port, "%u", info ? info->port : 0);
		log_kv(LOG_INFO, "listening", "listen", spec, "port", port, NULL);
		if (h->n == 0 && acme_base_init(srv, spec, info ? info->port : 0) != 0)
			goto fail;
		h->n++;
	}
	free(list);
	return h;
fail:
	free(list);
	if (h != NULL)
		for (int i = 0; i < h->n; i++)
			MHD_stop_daemon(h->d[i]);
	edge_free(srv->edge);
	srv->edge = NULL;
	free(h);
	return NULL;
}

void http_stop(struct http *h, struct server *srv, long grace)
{
	struct timespec tick = {0, 20 * 1000000};
	MHD_socket fds[HTTP_MAX_LISTEN];

	if (h == NULL)
		return;
	atomic_store(&srv->shutting_down, 1);
	for (int i = 0; i < h->n; i++)
		fds[i] = MHD_quiesce_daemon(h->d[i]);
	for (long waited = 0; atomic_load(&srv->active_requests) > 0 && waited < grace * 50;
	     waited++)
		nanosleep(&tick, NULL);
	if (atomic_load(&srv->active_requests) > 0)
		log_kv(LOG_WARN, "grace period over; closing connections with requests in flight",
		       NULL);
	/* Requests waiting on a job (an ACME validation) are resumed before
	 * the stop: a connection still suspended then would abort the
	 * process. */
	jobs_drain(srv->jobs);
	jobs_drain(srv->acme_jobs);
	for (int i = 0; i < h->n; i++) {
		MHD_stop_daemon(h->d[i]);
		if (fds[i] != MHD_INVALID_SOCKET)
			close(fds[i]);
	}
	edge_free(srv->edge);
	srv->edge = NULL;
	free(h);
}
