/* The HTTPS listeners: one libmicrohttpd daemon per listen address, each
 * with a thread pool and epoll, sharing the request pipeline. */
#ifndef ORCHARD_HTTP_H
#define ORCHARD_HTTP_H

struct server;
struct http;

/* Starts a daemon for every address in srv->cfg.listen with the TLS pair
 * given (PEM text). Logs "listening" with the bound port of each (port 0
 * picks a free one). Returns NULL after logging the failure. */
struct http *http_start(struct server *srv, const char *cert_pem, const char *key_pem);

/* Stops accepting, lets in-flight requests finish for up to grace
 * seconds, then stops the daemons and frees. */
void http_stop(struct http *h, struct server *srv, long grace);

#endif
