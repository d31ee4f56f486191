/* The peer the device HTTPS client's tests talk to (tests/unit/clients/
 * test_https*.c): a server thread on 127.0.0.1, plain or TLS, that answers
 * each request with the next canned answer and keeps the last request. */
#ifndef ORCHARD_TESTS_CLIENTS_HTTPS_PEER_H
#define ORCHARD_TESTS_CLIENTS_HTTPS_PEER_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>

#include "clients/attest/https.h"

#define ANSWERS_MAX 8
/* One canned answer per request, in order; CLOSE after one: the peer
 * closes the connection once it is written; "" (HANG): it never answers. */
#define CLOSE "\x01"

struct peer {
	int lfd, port;
	SSL_CTX *tls;
	const char *answers[ANSWERS_MAX];
	int next, accepts;
	char buf[1 << 17]; /* the request being read */
	char req[1 << 17]; /* the last request, head and body */
	char tls_version[16];
	bool client_cert; /* the last TLS peer presented one */
	pthread_t th;
};
extern struct peer P;

/* A listening socket on 127.0.0.1, its port in *port. */
int listen_loopback(int *port);
/* Starts P (TLS with tls, plain with NULL); the answers are set after. */
void peer_start(SSL_CTX *tls);
/* Closes the client's kept connection first, then stops P. */
void peer_stop(void);
/* The next three answers, from the first. */
void answers(const char *a0, const char *a1, const char *a2);
/* "scheme://host:P.port path", in a static buffer. */
const char *U(const char *scheme, const char *host, const char *path);
/* One request with a 5 s timeout. */
int get(const char *method, const char *u, struct oa_https_resp *r, const char **why);
/* A failed request leaves nothing in *r. */
void assert_empty(const struct oa_https_resp *r);
/* Monotonic milliseconds. */
long long ms(void);

#endif
