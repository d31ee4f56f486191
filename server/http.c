/* libmicrohttpd setup. The path reaches the router undecoded (identity
 * unescape), so an encoded '/' inside a DPS registration ID stays inside
 * its segment; the router decodes each captured segment itself. */
#include "server/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/request.h"
#include "server/server.h"

#define HTTP_MAX_LISTEN 8
/* GnuTLS's NORMAL still offers TLS 1.0 and 1.1, deprecated by RFC 8996. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

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

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_kv(LOG_DEBUG, "libmicrohttpd", "detail", msg, NULL);
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
				MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
				(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			0, NULL, NULL, request_access, srv, MHD_OPTION_SOCK_ADDR, &ss,
			MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->cfg.threads,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->cfg.conn_timeout,
			MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
			MHD_OPTION_HTTPS_PRIORITIES, HTTP_TLS_PRIORITIES,
			MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE,
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
		h->n++;
	}
	free(list);
	return h;
fail:
	free(list);
	if (h != NULL)
		for (int i = 0; i < h->n; i++)
			MHD_stop_daemon(h->d[i]);
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
	for (int i = 0; i < h->n; i++) {
		MHD_stop_daemon(h->d[i]);
		if (fds[i] != MHD_INVALID_SOCKET)
			close(fds[i]);
	}
	free(h);
}
