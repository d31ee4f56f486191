/* https.c: the one HTTP/1.1 client of all device-side code, on OpenSSL
 * alone (https.h). One kept connection per thread (keep-alive, replaced
 * when the host, the roots, the client certificate or the TLS cap
 * change), the ca_file's roots (else the system's) and the host name
 * checked, an optional client certificate chain and key (a TPM-held key
 * signs through its caller's ESYS context, tpm_pkey.c). Not libcurl: its
 * dependency tree (GnuTLS through librtmp, Kerberos, LDAP, libssh2,
 * nghttp2...) cost the agent about 5 MB of RSS before it did anything
 * (docs/agent.md, "Footprint"). Every transfer can be interrupted
 * (oa_https_interrupt); sockets are non-blocking and polled in 100 ms
 * steps. Born as clients/agent/http.c. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients/attest/https.h"

int (*oa_https_interrupt)(void);

#define HEAD_MAX 16384
#define CONNECT_TIMEOUT_MS 10000
/* A body over EXPECT_OVER bytes waits for "100 Continue" (at most
 * EXPECT_MS), as libcurl 7.88 did: a peer that refuses it (413) answers
 * before it is sent. */
#define EXPECT_OVER 1024
#define EXPECT_MS 1000
#define TIMED_OUT "timed out"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	bool tls;
	char host[256], port[8]; /* where it goes, for reuse */
};

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

static int url_parse(const char *s, struct url *u)
{
	const char *p;
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
	if (hl == 0 || hl >= sizeof(u->host) || pl >= sizeof(u->port) || (colon && !pl))
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

/* Waits until fd is ready for events, in 100 ms steps: 0, or -1 with
 * c->err (deadline, interrupt). */
static int wait_fd(struct conn *c, short events)
{
	for (;;) {
		if (interrupted()) {
			c->err = OA_HTTPS_INTERRUPTED;
			c->aborted = true;
			return -1;
		}
		long long left = c->deadline - now_ms();
		if (left <= 0) {
			c->err = TIMED_OUT;
			c->aborted = true;
			return -1;
		}
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, left < 100 ? (int)left : 100);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			c->err = "poll failed";
			return -1;
		}
	}
}

static void conn_close(struct conn *c)
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

static void drop_kept(void)
{
	if (T.kept)
		conn_close(&T.keep);
	T.kept = false;
}

/* This thread's TLS context for ca_file and the cap, made when either
 * changed (the kept connection is then closed). NULL with *why. */
static SSL_CTX *tls_ctx(const char *ca_file, const char **why)
{
	if (T.ctx && T.ctx_tls12 == T.tls12 &&
	    (ca_file ? T.ctx_ca && !strcmp(T.ctx_ca, ca_file) : !T.ctx_ca))
		return T.ctx;
	drop_kept();
	SSL_CTX_free(T.ctx);
	free(T.ctx_ca);
	T.ctx_ca = ca_file ? strdup(ca_file) : NULL;
	T.ctx_tls12 = T.tls12;
	T.ctx = SSL_CTX_new(TLS_client_method());
	if (!T.ctx || (ca_file && !T.ctx_ca)) {
		*why = "out of memory";
		goto fail;
	}
	SSL_CTX_set_min_proto_version(T.ctx, TLS1_2_VERSION);
	if (T.tls12)
		SSL_CTX_set_max_proto_version(T.ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(T.ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file ? SSL_CTX_load_verify_locations(T.ctx, ca_file, NULL) == 1
		    : SSL_CTX_set_default_verify_paths(T.ctx) == 1)
		return T.ctx;
	*why = "cannot read the CA file";
fail:
	SSL_CTX_free(T.ctx);
	T.ctx = NULL;
	free(T.ctx_ca);
	T.ctx_ca = NULL;
	ERR_clear_error();
	return NULL;
}

static int conn_open(struct conn *c, const char *ca_file, const struct url *u)
{
	long long dl = c->deadline;
	c->fd = -1;
	c->ssl = NULL;
	c->tls = u->tls;
	memcpy(c->host, u->host, sizeof(c->host));
	memcpy(c->port, u->port, sizeof(c->port));
	SSL_CTX *x = NULL;
	if (u->tls && !(x = tls_ctx(ca_file, &c->err)))
		return -1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *ai = NULL;
	if (getaddrinfo(u->host, u->port, &hints, &ai) != 0) {
		c->err = "cannot resolve the host";
		return -1;
	}
	long long cdl = now_ms() + CONNECT_TIMEOUT_MS;
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
	if (c->fd < 0)
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

static int conn_write(struct conn *c, const char *p, size_t n)
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
static ssize_t conn_read(struct conn *c, char *p, size_t n)
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

struct reader {
	struct conn *c;
	char buf[16384];
	size_t off, len;
	bool any; /* a byte of the answer arrived */
};

static ssize_t rd_fill(struct reader *r)
{
	if (r->off < r->len)
		return (ssize_t)(r->len - r->off);
	r->off = r->len = 0;
	ssize_t n = conn_read(r->c, r->buf, sizeof(r->buf));
	if (n > 0) {
		r->len = (size_t)n;
		r->any = true;
	}
	return n;
}

/* One CRLF-ended line (without it) into out: 0, or -1. */
static int rd_line(struct reader *r, char *out, size_t max)
{
	size_t n = 0;
	for (;;) {
		if (rd_fill(r) <= 0)
			return -1;
		char ch = r->buf[r->off++];
		if (ch == '\n') {
			if (n && out[n - 1] == '\r')
				n--;
			out[n] = '\0';
			return 0;
		}
		if (n + 1 >= max)
			return -1;
		out[n++] = ch;
	}
}

struct body_out {
	const struct oa_https_req *q;
	struct oa_https_resp *r;
	size_t max;
};

static int body_put(struct body_out *o, const char *p, size_t n)
{
	if (o->q->sink)
		return o->q->sink(o->q->arg, o->r, p, n);
	struct oa_https_resp *r = o->r;
	if (n > o->max - r->len)
		return -1;
	char *nb = realloc(r->body, r->len + n + 1);
	if (!nb)
		return -1;
	memcpy(nb + r->len, p, n);
	r->body = nb;
	r->len += n;
	r->body[r->len] = '\0';
	return 0;
}

/* Passes up to want bytes (want < 0: to the end) on: 0, or -1. */
static int rd_body(struct reader *r, long long want, struct body_out *o)
{
	while (want != 0) {
		ssize_t n = rd_fill(r);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (want > 0)
				r->c->err = "the body ended early";
			return want > 0 ? -1 : 0;
		}
		size_t take = want > 0 && (long long)n > want ? (size_t)want : (size_t)n;
		if (body_put(o, r->buf + r->off, take) < 0) {
			r->c->err = "the body was refused (too large, or a write failed)";
			return -1;
		}
		r->off += take;
		if (want > 0)
			want -= (long long)take;
	}
	return 0;
}

/* The value of "Name: value" when the line's name is name (trimmed, into
 * the line), else NULL. */
static char *hval(char *line, const char *name)
{
	size_t nl = strlen(name);
	if (strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	char *v = line + nl + 1, *e;
	while (*v == ' ' || *v == '\t')
		v++;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	return v;
}

static int keep_header(char **slot, const char *v, bool join)
{
	char *n = NULL;
	if (join && *slot) {
		if (asprintf(&n, "%s, %s", *slot, v) < 0)
			n = NULL;
	} else {
		n = strdup(v);
	}
	if (!n)
		return -1;
	free(*slot);
	*slot = n;
	return 0;
}

/* Retry-After: delay-seconds or an IMF-fixdate, as seconds from now. */
static long retry_after(const char *v)
{
	char *end;
	long s = strtol(v, &end, 10);
	if (end != v && *end == '\0')
		return s < 0 ? 0 : s;
	struct tm tm = {0};
	const char *p = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!p || *p)
		return -1;
	long long d = (long long)timegm(&tm) - (long long)time(NULL);
	return d < 0 ? 0 : (long)d;
}

void oa_https_resp_free(struct oa_https_resp *r)
{
	free(r->body);
	free(r->location);
	free(r->nonce);
	free(r->link);
	free(r->content_type);
	free(r->etag);
	free(r->content_range);
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
}

/* Reads the head (after 1xx answers; interim: the first head, 1xx or
 * not) into r: 0, or -1 with c->err. Sets *clen (-1: none), *chunked,
 * *close_after. */
static int read_head(struct reader *rd, struct oa_https_resp *r, long long *clen, bool *chunked,
		     bool *close_after, bool interim)
{
	struct conn *c = rd->c;
	char *line = malloc(HEAD_MAX);
	int rc = -1;
	if (!line) {
		c->err = "out of memory";
		return -1;
	}
	do { /* 1xx answers (100 Continue) come before the real one */
		if (r->status)
			oa_https_resp_free(r); /* a 1xx's headers are not the answer's */
		c->err = "no HTTP answer";
		if (rd_line(rd, line, HEAD_MAX) < 0 || strncmp(line, "HTTP/1.", 7) != 0 ||
		    strlen(line) < 12 || line[8] != ' ')
			goto out;
		char *end;
		r->status = strtol(line + 9, &end, 10);
		if (end != line + 12 || r->status < 100 || r->status > 999)
			goto out;
		*close_after = line[7] == '0'; /* HTTP/1.0 */
		*clen = -1;
		*chunked = false;
		size_t total = 0;
		for (;;) {
			c->err = "bad HTTP header";
			if (rd_line(rd, line, HEAD_MAX) < 0 || (total += strlen(line)) > HEAD_MAX)
				goto out;
			if (!line[0])
				break;
			char *v;
			int ok = 0;
			if ((v = hval(line, "Content-Length"))) {
				*clen = strtoll(v, &end, 10);
				if (end == v || *end || *clen < 0)
					goto out;
			} else if ((v = hval(line, "Transfer-Encoding"))) {
				*chunked = strcasestr(v, "chunked") != NULL;
			} else if ((v = hval(line, "Connection"))) {
				if (strcasestr(v, "close"))
					*close_after = true;
			} else if ((v = hval(line, "Retry-After"))) {
				r->retry_after = retry_after(v);
			} else if ((v = hval(line, "Location"))) {
				ok = keep_header(&r->location, v, false);
			} else if ((v = hval(line, "Replay-Nonce"))) {
				ok = keep_header(&r->nonce, v, false);
			} else if ((v = hval(line, "Link"))) {
				ok = keep_header(&r->link, v, true);
			} else if ((v = hval(line, "Content-Type"))) {
				ok = keep_header(&r->content_type, v, false);
			} else if ((v = hval(line, "ETag"))) {
				ok = keep_header(&r->etag, v, false);
			} else if ((v = hval(line, "Content-Range"))) {
				ok = keep_header(&r->content_range, v, false);
			}
			if (ok < 0) {
				c->err = "out of memory";
				goto out;
			}
		}
	} while (r->status < 200 && !interim);
	rc = 0;
out:
	free(line);
	return rc;
}

/* Reads the body as the head says: 0, or -1 with c->err. *whole: the
 * answer ended where its framing says (the connection can be kept). */
static int read_body(struct reader *rd, const struct oa_https_req *q, struct oa_https_resp *r,
		     long long clen, bool chunked, bool *whole)
{
	struct body_out o = {.q = q, .r = r, .max = q->max ? q->max : OA_HTTPS_BODY_MAX};
	char line[128];
	*whole = true;
	if (!strcmp(q->method, "HEAD") || r->status == 204 || r->status == 304)
		return 0;
	if (!chunked) {
		*whole = clen >= 0;
		return rd_body(rd, clen, &o);
	}
	for (;;) {
		rd->c->err = "bad chunk";
		if (rd_line(rd, line, sizeof(line)) < 0)
			return -1;
		char *end;
		long long sz = strtoll(line, &end, 16);
		if (end == line || sz < 0)
			return -1;
		if (sz == 0)
			break;
		if (rd_body(rd, sz, &o) < 0 || rd_line(rd, line, sizeof(line)) < 0)
			return -1;
	}
	/* Trailers, if any, up to the empty line. */
	do {
		if (rd_line(rd, line, sizeof(line)) < 0)
			return -1;
	} while (line[0]);
	return 0;
}

/* One try on connection c: 0, -1 (c->err), or -2 when c was a kept one
 * and failed before any answer byte (worth one more try on a new one). */
static int exchange(struct conn *c, bool reused, const struct oa_https_req *q, const struct url *u,
		    struct oa_https_resp *r, bool *keep)
{
	char *req = NULL;
	struct reader *rd = NULL;
	int rc = -1;
	bool v6 = strchr(u->host, ':') != NULL;
	bool sized = q->body || !strcmp(q->method, "POST") || !strcmp(q->method, "PUT") ||
		     !strcmp(q->method, "PATCH");
	bool expect = q->body && q->len > EXPECT_OVER;
	char cl[64] = "";
	if (sized)
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n%s", q->body ? q->len : 0,
			 expect ? "Expect: 100-continue\r\n" : "");
	/* Without 100-continue the body goes in the same write as the head:
	 * written apart, the body waited for the peer's delayed ACK (Nagle),
	 * 40 ms per POST on Linux (bench/acme_load.c saw it). */
	bool inline_body = !expect && q->body && q->len;
	int n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\n%s%s\r\n", q->method, u->path,
			 v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
			 q->headers ? q->headers : "", cl);
	if (n >= 0 && inline_body) {
		char *whole = realloc(req, (size_t)n + q->len);
		if (whole == NULL) {
			free(req);
			n = -1;
		} else {
			memcpy(whole + n, q->body, q->len);
			req = whole;
			n += (int)q->len;
		}
	}
	if (n < 0 || !(rd = calloc(1, sizeof(*rd)))) {
		if (n < 0)
			req = NULL;
		c->err = "out of memory";
		goto out;
	}
	rd->c = c;
	if (conn_write(c, req, (size_t)n) < 0) {
		rc = reused && !c->aborted ? -2 : -1;
		goto out;
	}
	long long clen;
	bool chunked, close_after, whole, sent = !expect;
	if (expect) {
		/* Up to EXPECT_MS for the peer's word: 100 (send the body), a
		 * final answer (the body is not wanted: a 413 is read, not lost
		 * to a reset), or silence (send it anyway). */
		long long dl = c->deadline, soon = now_ms() + EXPECT_MS;
		c->deadline = soon < dl ? soon : dl;
		int h = read_head(rd, r, &clen, &chunked, &close_after, true);
		c->deadline = dl;
		if (h < 0) {
			bool silent = c->aborted && !strcmp(c->err, TIMED_OUT) && !rd->any &&
				      now_ms() < dl;
			if (!silent) {
				rc = reused && !rd->any && !c->aborted ? -2 : -1;
				goto out;
			}
			c->aborted = false;
		}
		if (h < 0 || r->status < 200) {
			oa_https_resp_free(r);
			sent = true;
		}
	}
	if (sent && expect) {
		if (conn_write(c, q->body, q->len) < 0)
			goto out;
	} else if (sent && !inline_body && q->body && q->len &&
		   conn_write(c, q->body, q->len) < 0) {
		rc = reused && !c->aborted ? -2 : -1;
		goto out;
	}
	if (sent && read_head(rd, r, &clen, &chunked, &close_after, false) < 0) {
		rc = reused && !rd->any && !c->aborted ? -2 : -1;
		goto out;
	}
	if (!sent)
		close_after = true; /* the peer may still wait for the body */
	if (read_body(rd, q, r, clen, chunked, &whole) < 0)
		goto out;
	*keep = whole && !close_after && rd->off == rd->len;
	rc = 0;
out:
	free(rd);
	free(req);
	return rc;
}

int oa_https_request(const struct oa_https_req *q, struct oa_https_resp *r, const char **why)
{
	struct url u;
	struct conn c = {.fd = -1};
	int rc = -1;
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	*why = NULL;
	if (url_parse(q->url, &u) < 0) {
		*why = "not an http(s) URL";
		return -1;
	}
	long long dl = now_ms() + (q->timeout_s > 0 ? q->timeout_s : 30) * 1000;
	/* Roots or cap changed since the kept connection was made: not it. */
	if (u.tls && !tls_ctx(q->ca_file, why))
		return -1;
	for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
		bool reused = false, keep = false;
		if (T.kept && T.keep.tls == u.tls && !strcmp(T.keep.host, u.host) &&
		    !strcmp(T.keep.port, u.port)) {
			c = T.keep;
			T.kept = false;
			reused = true;
		} else {
			drop_kept();
			c.deadline = dl;
			if (conn_open(&c, q->ca_file, &u) < 0) {
				*why = c.err;
				conn_close(&c);
				break;
			}
		}
		c.deadline = dl;
		c.err = NULL;
		c.aborted = false;
		rc = exchange(&c, reused, q, &u, r, &keep);
		if (rc == 0 && keep) {
			T.keep = c;
			T.kept = true;
		} else {
			*why = c.err ? c.err : "connection failed";
			conn_close(&c);
		}
		if (rc < 0) {
			oa_https_resp_free(r);
			if (rc == -1)
				break;
		}
	}
	return rc == 0 ? 0 : -1;
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
		drop_kept();
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
	drop_kept();
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
	drop_kept();
	T.tls12 = on;
}

void oa_https_done(void)
{
	drop_kept();
	client_forget();
	SSL_CTX_free(T.ctx);
	T.ctx = NULL;
	free(T.ctx_ca);
	T.ctx_ca = NULL;
	T.tls12 = false;
}
