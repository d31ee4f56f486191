/* The device HTTPS client's two halves share this: a parsed URL, a
 * connection, and the connection calls https.c makes (https_conn.c). */
#ifndef ORCHARD_CLIENTS_ATTEST_HTTPS_INT_H
#define ORCHARD_CLIENTS_ATTEST_HTTPS_INT_H
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HTTPS_TIMED_OUT "timed out"

struct url {
	bool tls;
	char host[256];
	char port[8];
	const char *path; /* into the URL */
};

struct conn {
	int fd;	  /* -1: closed */
	SSL *ssl; /* NULL for http:// */
	long long deadline;
	const char *err; /* why the transfer failed */
	bool aborted;	 /* by the deadline or an interrupt: never retried */
	bool blocking;	 /* connected: reads and writes wait themselves, step_ms at most */
	int step_ms;	 /* the socket's SO_RCVTIMEO and SO_SNDTIMEO */
	bool tls;
	char host[256], port[8]; /* where it goes, for reuse */
};

long long https_now_ms(void);
/* http:// or https://host[:port][/path], port digits, no control
 * character or space anywhere: 0, or -1. */
int https_url_parse(const char *s, struct url *u);
/* This thread's TLS context for ca_file (NULL: the system's roots) and
 * the TLS cap, made when either changed (the kept connection dropped):
 * NULL with *why when the roots cannot be read. */
SSL_CTX *https_tls_ctx(const char *ca_file, const char **why);
/* Connects c (deadline set) to u, over TLS when u says so: 0, or -1 with
 * c->err (close it still). */
int https_conn_open(struct conn *c, const char *ca_file, const struct url *u);
void https_conn_close(struct conn *c);
/* All n bytes: 0, or -1 with c->err. */
int https_conn_write(struct conn *c, const char *p, size_t n);
/* Up to n bytes: >0, 0 at the end of the stream, -1 with c->err. */
ssize_t https_conn_read(struct conn *c, char *p, size_t n);
/* https_proxy.c. The proxy for u (https URLs only): 1 with px and the
 * Proxy-Authorization header line (or "") in auth, 0 for none (unset, or
 * no_proxy names u's host), -1 when https_proxy cannot be used (not
 * http://, malformed). */
int https_proxy_for(const struct url *u, struct url *px, char *auth, size_t authlen);
/* On c connected to the proxy: CONNECT to u's host and port, 0 once the
 * proxy answers 2xx, or -1 with c->err. */
int https_proxy_tunnel(struct conn *c, const struct url *u, const char *auth);
/* This thread's kept connection, when it goes where u does: taken into *c
 * (true); put back after an answer that lets it live; dropped (closed). */
bool https_kept_take(const struct url *u, struct conn *c);
void https_kept_put(const struct conn *c);
void https_kept_drop(void);

#endif
