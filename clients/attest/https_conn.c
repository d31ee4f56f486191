/* https_conn.c: one connection of the device HTTPS client (https.c):
 * TCP and TLS on OpenSSL with the ca_file's roots (else the system's), the
 * host name checked, an optional client certificate chain and key (a
 * TPM-held key signs through its caller's ESYS context, tpm_pkey.c), the
 * deadline and interrupts, and this thread's kept connection; through
 * https_proxy when the environment names one (https_proxy.c). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients/attest/https.h"
#include "clients/attest/https_int.h"

int (*oa_https_interrupt)(void);

#define CONNECT_TIMEOUT_MS 10000

long long https_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* This thread's client state: the TLS context (made once per roots and
 * cap: the roots are parsed once), the client credentials, the kept
 * connection. */
static __thread struct {
	SSL_CTX *ctx;
	char *ctx_ca; /* the ca_file ctx was made with (NULL: the system's) */
	bool ctx_tls12;
	bool tls12;
	X509 *leaf;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
	struct conn keep;
	bool kept;
} T;

int https_url_parse(const char *s, struct url *u)
{
	const char *p;
	/* A control character or a space is in no URL: in the host or port it
	 * would reach a proxy's CONNECT line unresolved (https_proxy.c). */
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -1;
	if (!strncmp(s, "https://", 8)) {
		u->tls = true;
		p = s + 8;
	} else if (!strncmp(s, "http://", 7)) {
		u->tls = false;
		p = s + 7;
	} else {
		return -1;
	}
	const char *end = p + strcspn(p, "/?#");
	const char *hs = p, *he, *colon;
	if (*p == '[') {
		hs = p + 1;
		he = memchr(hs, ']', (size_t)(end - hs));
		if (!he)
			return -1;
		colon = he + 1 < end && he[1] == ':' ? he + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		he = colon ? colon : end;
	}
	size_t hl = (size_t)(he - hs), pl = colon ? (size_t)(end - colon - 1) : 0;
	if (hl == 0 || hl >= sizeof(u->host) || pl >= sizeof(u->port) || (colon && !pl) ||
	    (colon && strspn(colon + 1, "0123456789") != pl))
		return -1;
	memcpy(u->host, hs, hl);
	u->host[hl] = '\0';
	if (colon) {
		memcpy(u->port, colon + 1, pl);
		u->port[pl] = '\0';
	} else {
		snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	}
	u->path = *end == '/' ? end : "/";
	return 0;
}

static bool interrupted(void)
{
	return oa_https_interrupt && oa_https_interrupt();
}

#define STEP_MS 100

/* How long a blocking read or write of c waits before it gives up (then
 * wait_fd checks the deadline and the interrupt, and it is called again):
 * 0, or -1. */
static int set_step(struct conn *c, int ms)
{
	struct timeval tv = {ms / 1000, (long)(ms % 1000) * 1000};
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	c->step_ms = ms;
	return 0;
}

/* Once connected, c's socket blocks, STEP_MS at most per call: a read
 * then waits in the read. Non-blocking, each answer cost a read that found
 * nothing (EAGAIN), a poll and the read again: bench/acme_load.c made 7 of
 * each per issuance. 0, or -1 with c->err. */
static int conn_blocking(struct conn *c)
{
	int fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || set_step(c, STEP_MS) < 0 || fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		c->err = "cannot set up the socket";
		return -1;
	}
	c->blocking = true;
	return 0;
}

/* Waits until fd is ready for events, in 100 ms steps (a blocking socket:
 * only the checks, the next read or write waits itself): 0, or -1 with
 * c->err (deadline, interrupt). */
static int wait_fd(struct conn *c, short events)
{
	for (;;) {
		if (interrupted()) {
			c->err = OA_HTTPS_INTERRUPTED;
			c->aborted = true;
			return -1;
		}
		long long left = c->deadline - https_now_ms();
		if (left <= 0) {
			c->err = HTTPS_TIMED_OUT;
			c->aborted = true;
			return -1;
		}
		int step = left < STEP_MS ? (int)left : STEP_MS;
		if (c->blocking) {
			if (step != c->step_ms && set_step(c, step) < 0) {
				c->err = "cannot set up the socket";
				return -1;
			}
			return 0;
		}
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, step);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			c->err = "poll failed";
			return -1;
		}
	}
}

void https_conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	ERR_clear_error();
}

void https_kept_drop(void)
{
	if (T.kept)
		https_conn_close(&T.keep);
	T.kept = false;
}

/* The TLS context threads share: one per process, for the roots and cap
 * it was made with, as long as a thread uses it (users). Reading the roots
 * and making the context cost a thread 2.8 M instructions
 * (bench/device_attest_load's 64 threads, each a device, made 64). An
 * SSL_CTX serves SSL_new on many threads; the client certificate is set
 * per connection, not on it. */
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	SSL_CTX *ctx;
	char *ca; /* NULL: the system's roots */
	bool tls12;
	int users;
} S;

static bool same_roots(const char *a, const char *b)
{
	return a ? b && !strcmp(a, b) : !b;
}

/* This thread lets go of its context (shared or not). */
static void ctx_release(void)
{
	if (!T.ctx)
		return;
	pthread_mutex_lock(&shared_mu);
	if (T.ctx == S.ctx && --S.users == 0) {
		SSL_CTX_free(S.ctx);
		free(S.ca);
		S.ctx = NULL;
		S.ca = NULL;
	}
	pthread_mutex_unlock(&shared_mu);
	SSL_CTX_free(T.ctx);
	T.ctx = NULL;
	free(T.ctx_ca);
	T.ctx_ca = NULL;
}

/* A new context for ca_file and the cap: NULL with *why. */
static SSL_CTX *ctx_make(const char *ca_file, bool tls12, const char **why)
{
	SSL_CTX *x = SSL_CTX_new(TLS_client_method());
	if (!x) {
		*why = "out of memory";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
	if (tls12)
		SSL_CTX_set_max_proto_version(x, TLS1_2_VERSION);
	SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
	/* Whatever the socket holds in one read, not a record's 5-byte header
	 * and then its body in two: an answer is a few records (head, body,
	 * a TLS 1.3 ticket), 36 reads per ACME issuance without it
	 * (bench/acme_load.c, strace). */
	SSL_CTX_set_read_ahead(x, 1);
	if (ca_file ? SSL_CTX_load_verify_locations(x, ca_file, NULL) == 1
		    : SSL_CTX_set_default_verify_paths(x) == 1)
		return x;
	*why = "cannot read the CA file";
	SSL_CTX_free(x);
	ERR_clear_error();
	return NULL;
}

/* This thread's TLS context for ca_file and the cap: the process's shared
 * one when it was made for them, else a new one that becomes it. When
 * either changed, the kept connection is closed. NULL with *why. */
SSL_CTX *https_tls_ctx(const char *ca_file, const char **why)
{
	if (T.ctx && T.ctx_tls12 == T.tls12 && same_roots(ca_file, T.ctx_ca))
		return T.ctx;
	https_kept_drop();
	ctx_release();
	char *ca = NULL;
	if (ca_file && !(ca = strdup(ca_file))) {
		*why = "out of memory";
		return NULL;
	}
	pthread_mutex_lock(&shared_mu);
	if (!(S.ctx && S.tls12 == T.tls12 && same_roots(ca_file, S.ca))) {
		/* Made under the lock: the threads that start together wait for
		 * the one context rather than each make their own. */
		char *sca = NULL;
		SSL_CTX *x = NULL;
		if (ca_file && !(sca = strdup(ca_file)))
			*why = "out of memory";
		else
			x = ctx_make(ca_file, T.tls12, why);
		if (!x) {
			pthread_mutex_unlock(&shared_mu);
			free(sca);
			free(ca);
			return NULL;
		}
		if (S.ctx) { /* another's roots: its threads keep their references */
			SSL_CTX_free(S.ctx);
			free(S.ca);
		}
		S.ctx = x;
		S.ca = sca;
		S.tls12 = T.tls12;
		S.users = 0;
	}
	SSL_CTX_up_ref(S.ctx);
	S.users++;
	T.ctx = S.ctx;
	pthread_mutex_unlock(&shared_mu);
	T.ctx_ca = ca;
	T.ctx_tls12 = T.tls12;
	return T.ctx;
}

int https_conn_open(struct conn *c, const char *ca_file, const struct url *u)
{
	long long dl = c->deadline;
	c->fd = -1;
	c->ssl = NULL;
	c->blocking = false;
	c->tls = u->tls;
	memcpy(c->host, u->host, sizeof(c->host));
	memcpy(c->port, u->port, sizeof(c->port));
	SSL_CTX *x = NULL;
	if (u->tls && !(x = https_tls_ctx(ca_file, &c->err)))
		return -1;
	struct url px;
	char auth[1024];
	int via = https_proxy_for(u, &px, auth, sizeof(auth));
	if (via < 0) {
		c->err = "https_proxy is not an http:// proxy URL";
		return -1;
	}
	const struct url *to = via ? &px : u;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *ai = NULL;
	if (getaddrinfo(to->host, to->port, &hints, &ai) != 0) {
		c->err = via ? "cannot resolve the proxy" : "cannot resolve the host";
		return -1;
	}
	long long cdl = https_now_ms() + CONNECT_TIMEOUT_MS;
	c->err = "cannot connect";
	for (struct addrinfo *a = ai; a && c->fd < 0; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		c->fd = fd;
		c->deadline = cdl < dl ? cdl : dl;
		int e = 0;
		socklen_t el = sizeof(e);
		if ((connect(fd, a->ai_addr, a->ai_addrlen) < 0 &&
		     (errno != EINPROGRESS || wait_fd(c, POLLOUT) < 0 ||
		      getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0))) {
			if (e)
				c->err = "connection refused";
			close(fd);
			c->fd = -1;
		}
	}
	freeaddrinfo(ai);
	c->deadline = dl;
	if (c->fd < 0 || conn_blocking(c) < 0)
		return -1;
	if (via && https_proxy_tunnel(c, u, auth) != 0)
		return -1;
	if (!u->tls)
		return 0;
	c->ssl = SSL_new(x);
	c->err = "TLS setup failed";
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		return -1;
	if (T.key && (SSL_use_certificate(c->ssl, T.leaf) != 1 ||
		      (T.chain && SSL_set1_chain(c->ssl, T.chain) != 1) ||
		      SSL_use_PrivateKey(c->ssl, T.key) != 1)) {
		c->err = "cannot use the client certificate";
		return -1;
	}
	/* The name (or address) in the URL must be the certificate's. */
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	bool ip = X509_VERIFY_PARAM_set1_ip_asc(vp, u->host) == 1;
	if (!ip && (!SSL_set_tlsext_host_name(c->ssl, u->host) || !SSL_set1_host(c->ssl, u->host)))
		return -1;
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) < 0)
				return -1;
			continue;
		}
		long v = SSL_get_verify_result(c->ssl);
		c->err = v != X509_V_OK ? X509_verify_cert_error_string(v) : "TLS handshake failed";
		return -1;
	}
}

int https_conn_write(struct conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w;
		if (c->ssl) {
			size_t done = 0;
			int r = SSL_write_ex(c->ssl, p, n, &done);
			w = r ? (ssize_t)done : -1;
			if (!r) {
				int e = SSL_get_error(c->ssl, r);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
					c->err = "TLS write failed";
					return -1;
				}
				if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) < 0)
					return -1;
				continue;
			}
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno != EAGAIN && errno != EINTR) {
					c->err = "write failed";
					return -1;
				}
				if (wait_fd(c, POLLOUT) < 0)
					return -1;
				continue;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to n bytes: >0, 0 at the end of the stream, -1 with c->err. */
ssize_t https_conn_read(struct conn *c, char *p, size_t n)
{
	for (;;) {
		if (c->ssl) {
			size_t got = 0;
			int r = SSL_read_ex(c->ssl, p, n, &got);
			if (r)
				return (ssize_t)got;
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) {
				/* A peer closing without close_notify ends the stream too:
				 * the length checks catch a truncated body. */
				ERR_clear_error();
				return 0;
			}
			if (wait_fd(c, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN) < 0)
				return -1;
		} else {
			ssize_t r = recv(c->fd, p, n, 0);
			if (r >= 0)
				return r;
			if (errno != EAGAIN && errno != EINTR) {
				c->err = "read failed";
				return -1;
			}
			if (wait_fd(c, POLLIN) < 0)
				return -1;
		}
	}
}

bool https_kept_take(const struct url *u, struct conn *c)
{
	if (!T.kept || T.keep.tls != u->tls || strcmp(T.keep.host, u->host) != 0 ||
	    strcmp(T.keep.port, u->port) != 0)
		return false;
	*c = T.keep;
	T.kept = false;
	return true;
}

void https_kept_put(const struct conn *c)
{
	T.keep = *c;
	T.kept = true;
}

static void client_forget(void)
{
	X509_free(T.leaf);
	sk_X509_pop_free(T.chain, X509_free);
	EVP_PKEY_free(T.key);
	T.leaf = NULL;
	T.chain = NULL;
	T.key = NULL;
}

int oa_https_use_client(const char *chain_pem, EVP_PKEY *key, const char **why)
{
	const char *w = NULL;
	X509 *leaf = NULL, *x;
	STACK_OF(X509) *chain = NULL;
	BIO *bio = NULL;
	int rc = -1;

	if (!chain_pem || !key) {
		https_kept_drop();
		client_forget();
		return 0;
	}
	w = "out of memory";
	if (!(bio = BIO_new_mem_buf(chain_pem, -1)))
		goto out;
	w = "the client certificate is not PEM";
	if (!(leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		w = "out of memory";
		if ((!chain && !(chain = sk_X509_new_null())) || !sk_X509_push(chain, x)) {
			X509_free(x);
			goto out;
		}
	}
	w = "the client certificate is not the key's";
	if (X509_check_private_key(leaf, key) != 1)
		goto out;
	w = "out of memory";
	if (EVP_PKEY_up_ref(key) != 1)
		goto out;
	https_kept_drop();
	client_forget();
	T.leaf = leaf;
	T.chain = chain;
	T.key = key;
	leaf = NULL;
	chain = NULL;
	rc = 0;
out:
	if (rc < 0 && why)
		*why = w;
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	BIO_free(bio);
	ERR_clear_error(); /* the end of the PEM */
	return rc;
}

void oa_https_tls12(bool on)
{
	https_kept_drop();
	T.tls12 = on;
}

void oa_https_done(void)
{
	https_kept_drop();
	client_forget();
	ctx_release();
	T.tls12 = false;
}
