/* http.c: the agent's HTTPS requests and its SAS tokens, on OpenSSL alone.
 * HTTP/1.1, one connection per request ("Connection: close"), the
 * configured ca_file (else the system's roots) and the host name checked.
 * Not libcurl: its dependency tree (GnuTLS through librtmp, Kerberos, LDAP,
 * libssh2, nghttp2...) cost the agent about 5 MB of RSS before it did
 * anything (docs/agent.md, "Footprint"). Every transfer can be interrupted:
 * a SIGTERM or an app that ended aborts a long poll at once
 * (agent_interrupt); sockets are non-blocking and polled in 100 ms steps. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "common/b64.h"
#include "common/log.h"

volatile sig_atomic_t agent_stopping;
int (*agent_interrupt)(void);

#define HEAD_MAX 16384
#define BODY_MAX (1u << 20)
#define CONNECT_TIMEOUT_MS 10000

static SSL_CTX *ctx;		/* made once: the roots are parsed once */
static const char *ctx_ca_file; /* the ca_file ctx was made with */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn {
	int fd;
	SSL *ssl; /* NULL for http:// */
	long long deadline;
	const char *err; /* why the transfer failed */
};

struct url {
	bool tls;
	char host[256];
	char port[8];
	const char *path; /* into the URL */
};

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
	return agent_stopping || (agent_interrupt && agent_interrupt());
}

/* Waits until fd is ready for events, in 100 ms steps: 0, or -1 with
 * c->err (deadline, interrupt). */
static int wait_fd(struct conn *c, short events)
{
	for (;;) {
		if (interrupted()) {
			c->err = "interrupted";
			return -1;
		}
		long long left = c->deadline - now_ms();
		if (left <= 0) {
			c->err = "timed out";
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

/* The client certificate every later connection presents
 * (http_use_client): the leaf, the rest of its chain, and the key. */
static struct {
	X509 *leaf;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
} client;

static void client_clear(void)
{
	X509_free(client.leaf);
	sk_X509_pop_free(client.chain, X509_free);
	EVP_PKEY_free(client.key);
	memset(&client, 0, sizeof(client));
}

int http_use_client(const char *chain_pem, EVP_PKEY *key)
{
	if (!chain_pem || !key) {
		client_clear();
		return 0;
	}
	BIO *bio = BIO_new_mem_buf(chain_pem, -1);
	X509 *leaf = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *x;
	while (bio && chain && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(chain, x))
			X509_free(x);
	BIO_free(bio);
	int ok = leaf && chain && X509_check_private_key(leaf, key) == 1 && EVP_PKEY_up_ref(key);
	ERR_clear_error();
	if (!ok) {
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		return -1;
	}
	client_clear();
	client.leaf = leaf;
	client.chain = chain;
	client.key = key;
	return 0;
}

static SSL_CTX *tls_ctx(const struct agent_config *cfg)
{
	if (ctx && ctx_ca_file == cfg->ca_file)
		return ctx;
	SSL_CTX_free(ctx);
	ctx = SSL_CTX_new(TLS_client_method());
	ctx_ca_file = cfg->ca_file;
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	int ok = cfg->ca_file ? SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL)
			      : SSL_CTX_set_default_verify_paths(ctx);
	if (!ok) {
		log_kv(LOG_WARN, "cannot read the CA file", "file",
		       cfg->ca_file ? cfg->ca_file : "(system)", NULL);
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

static int conn_open(struct conn *c, const struct agent_config *cfg, const struct url *u,
		     long timeout_s)
{
	c->fd = -1;
	c->ssl = NULL;
	c->deadline = now_ms() + timeout_s * 1000;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *ai = NULL;
	if (getaddrinfo(u->host, u->port, &hints, &ai) != 0) {
		c->err = "cannot resolve the host";
		return -1;
	}
	long long cdl = now_ms() + CONNECT_TIMEOUT_MS, dl = c->deadline;
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
	SSL_CTX *x = tls_ctx(cfg);
	c->ssl = x ? SSL_new(x) : NULL;
	c->err = "TLS setup failed";
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		return -1;
	c->err = "the client certificate is refused by OpenSSL";
	if (client.key &&
	    SSL_use_cert_and_key(c->ssl, client.leaf, client.key, client.chain, 1) != 1)
		return -1;
	c->err = "TLS setup failed";
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
		ERR_clear_error();
		return -1;
	}
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	ERR_clear_error();
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
				 * the length checks below catch a truncated body. */
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

/* Where a response body goes: sink(arg, bytes, n) returns 0, or -1 to abort. */
typedef int (*body_sink)(void *arg, long status, const char *p, size_t n);

struct reader {
	struct conn *c;
	char buf[16384];
	size_t off, len;
};

static ssize_t rd_fill(struct reader *r)
{
	if (r->off < r->len)
		return (ssize_t)(r->len - r->off);
	r->off = r->len = 0;
	ssize_t n = conn_read(r->c, r->buf, sizeof(r->buf));
	if (n > 0)
		r->len = (size_t)n;
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

/* Passes up to want bytes (want < 0: to the end) to sink: 0, or -1. */
static int rd_body(struct reader *r, long long want, body_sink sink, void *arg, long status)
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
		if (sink(arg, status, r->buf + r->off, take) < 0) {
			r->c->err = "the body was refused (too large, or a write failed)";
			return -1;
		}
		r->off += take;
		if (want > 0)
			want -= (long long)take;
	}
	return 0;
}

/* Sends one request and reads the answer: the status, Retry-After into
 * *retry_after, the body through sink. 0, or -1 on a transport failure
 * (logged unless interrupted). */
static int exchange(const struct agent_config *cfg, const char *method, const char *url,
		    const char *extra_headers, const char *body, long timeout_s, body_sink sink,
		    void *arg, long *status, long *retry_after)
{
	struct url u;
	struct conn c = {.fd = -1};
	struct reader *r = NULL;
	char *req = NULL;
	int rc = -1;
	*status = 0;
	*retry_after = -1;
	if (url_parse(url, &u) < 0) {
		c.err = "not an http(s) URL";
		goto out;
	}
	if (conn_open(&c, cfg, &u, timeout_s) < 0)
		goto out;
	size_t blen = body ? strlen(body) : 0;
	bool v6 = strchr(u.host, ':') != NULL;
	int n = asprintf(&req,
			 "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: orchard-agent/%s\r\n"
			 "Connection: close\r\n%sContent-Length: %zu\r\n\r\n",
			 method, u.path, v6 ? "[" : "", u.host, v6 ? "]" : "", u.port,
			 AGENT_VERSION, extra_headers ? extra_headers : "", blen);
	if (n < 0) {
		req = NULL;
		c.err = "out of memory";
		goto out;
	}
	if (conn_write(&c, req, (size_t)n) < 0 || (blen && conn_write(&c, body, blen) < 0))
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r) {
		c.err = "out of memory";
		goto out;
	}
	r->c = &c;
	char line[HEAD_MAX];
	long long clen = -1;
	bool chunked = false;
	do { /* 1xx answers (100 Continue) come before the real one */
		c.err = "no HTTP answer";
		if (rd_line(r, line, sizeof(line)) < 0 || strncmp(line, "HTTP/1.", 7) != 0 ||
		    strlen(line) < 12)
			goto out;
		*status = strtol(line + 9, NULL, 10);
		size_t total = 0;
		for (;;) {
			c.err = "bad HTTP header";
			if (rd_line(r, line, sizeof(line)) < 0 ||
			    (total += strlen(line)) > HEAD_MAX)
				goto out;
			if (!line[0])
				break;
			if (!strncasecmp(line, "Content-Length:", 15))
				clen = strtoll(line + 15, NULL, 10);
			else if (!strncasecmp(line, "Transfer-Encoding:", 18))
				chunked = strcasestr(line + 18, "chunked") != NULL;
			else if (!strncasecmp(line, "Retry-After:", 12))
				*retry_after = strtol(line + 12, NULL, 10);
		}
	} while (*status >= 100 && *status < 200);
	if (!strcmp(method, "HEAD") || *status == 204 || *status == 304) {
		rc = 0;
	} else if (chunked) {
		for (;;) {
			c.err = "bad chunk";
			if (rd_line(r, line, sizeof(line)) < 0)
				goto out;
			char *end;
			long long sz = strtoll(line, &end, 16);
			if (end == line || sz < 0)
				goto out;
			if (sz == 0)
				break;
			if (rd_body(r, sz, sink, arg, *status) < 0 ||
			    rd_line(r, line, sizeof(line)) < 0)
				goto out;
		}
		rc = 0; /* trailers, if any, are not read */
	} else {
		rc = rd_body(r, clen, sink, arg, *status);
	}
out:
	if (rc < 0 && !interrupted())
		log_kv(LOG_WARN, "request failed", "method", method, "url", url, "error",
		       c.err ? c.err : "?", NULL);
	free(r);
	free(req);
	conn_close(&c);
	return rc;
}

struct sink {
	char *p;
	size_t len;
	size_t max;
};

static int to_mem(void *arg, long status, const char *d, size_t add)
{
	(void)status;
	struct sink *s = arg;
	if (s->len + add > s->max)
		return -1;
	char *np = realloc(s->p, s->len + add + 1);
	if (!np)
		return -1;
	memcpy(np + s->len, d, add);
	s->p = np;
	s->len += add;
	s->p[s->len] = '\0';
	return 0;
}

void http_reply_free(struct http_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int http_json(const struct agent_config *c, const char *method, const char *url, const char *auth,
	      const char *body, long timeout_s, struct http_reply *r)
{
	memset(r, 0, sizeof(*r));
	struct sink s = {.max = BODY_MAX};
	char *hdrs = NULL;
	bool a = auth && *auth; /* "": mutual TLS, no Authorization */
	if (asprintf(&hdrs, "%s%s%sAccept: application/json\r\n%s", a ? "Authorization: " : "",
		     a ? auth : "", a ? "\r\n" : "",
		     body ? "Content-Type: application/json\r\n" : "") < 0)
		return -1;
	int rc = exchange(c, method, url, hdrs, body, timeout_s, to_mem, &s, &r->status,
			  &r->retry_after);
	free(hdrs);
	if (rc == 0) {
		r->body = s.p;
		r->len = s.len;
	} else {
		free(s.p);
	}
	return rc;
}

struct dl {
	FILE *f;
	uint64_t have, max;
	bool checked, keep;
};

/* Writes the module's bytes; a 200 to a Range request is the whole module
 * again, so what the file held is dropped first. Nothing but 2xx lands. */
static int to_file(void *arg, long st, const char *d, size_t n)
{
	struct dl *x = arg;
	if (!x->checked) {
		x->checked = true;
		x->keep = st == 200 || st == 206;
		if (st == 200 && x->have) {
			if (fflush(x->f) != 0 || ftruncate(fileno(x->f), 0) < 0 ||
			    fseek(x->f, 0, SEEK_SET) < 0)
				return -1;
			x->have = 0;
		}
	}
	if (!x->keep)
		return 0; /* an error body: read, not kept */
	if (x->have + n > x->max)
		return -1;
	x->have += n;
	return fwrite(d, 1, n, x->f) == n ? 0 : -1;
}

long http_download(const struct agent_config *c, const char *url, const char *auth,
		   const char *path, uint64_t max)
{
	struct stat st;
	uint64_t have = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (have > max)
		return -1;
	FILE *f = fopen(path, "r+b");
	if (!f)
		f = fopen(path, "w+b");
	if (f && fseek(f, 0, SEEK_END) < 0) {
		fclose(f);
		return -1;
	}
	if (!f)
		return -1;
	char *hdrs = NULL;
	bool a = auth && *auth; /* "": mutual TLS, no Authorization */
	if (asprintf(&hdrs, "%s%s%s", a ? "Authorization: " : "", a ? auth : "", a ? "\r\n" : "") <
	    0) {
		fclose(f);
		return -1;
	}
	if (have) {
		char *h2 = NULL;
		if (asprintf(&h2, "%sRange: bytes=%llu-\r\n", hdrs, (unsigned long long)have) < 0)
			h2 = NULL;
		free(hdrs);
		hdrs = h2;
	}
	struct dl x = {.f = f, .have = have, .max = max};
	long status = -1, ra;
	if (!hdrs || exchange(c, "GET", url, hdrs, NULL, 600, to_file, &x, &status, &ra) < 0)
		status = -1;
	free(hdrs);
	if (fclose(f) != 0)
		status = -1;
	return status;
}

/* Percent-encodes all but RFC 3986's unreserved characters (as libcurl's
 * curl_easy_escape, which Azure's SDKs match). malloc'd. */
static char *url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = malloc(strlen(s) * 3 + 1), *p = o;
	if (!o)
		return NULL;
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		    (*q >= '0' && *q <= '9') || *q == '-' || *q == '.' || *q == '_' || *q == '~') {
			*p++ = (char)*q;
		} else {
			*p++ = '%';
			*p++ = hex[*q >> 4];
			*p++ = hex[*q & 15];
		}
	}
	*p = '\0';
	return o;
}

char *sas_sign(const char *sr, long ttl, const char *skn, sas_mac_fn mac_fn, void *mac_ctx)
{
	long se = (long)time(NULL) + ttl;
	char msg[1024], out[2048];
	/* As Azure's SDKs do: sr URL-encoded, and the HMAC over sr as sent. */
	char *esr = url_escape(sr);
	char *sig = NULL, *esig = NULL, *ret = NULL;
	int n = esr ? snprintf(msg, sizeof(msg), "%s\n%ld", esr, se) : -1;
	uint8_t mac[32];
	if (n > 0 && (size_t)n < sizeof(msg) &&
	    mac_fn(mac_ctx, (const uint8_t *)msg, (size_t)n, mac) == 0)
		sig = b64_encode(mac, 32, 0);
	esig = sig ? url_escape(sig) : NULL;
	if (esig && esr) {
		snprintf(out, sizeof(out), "SharedAccessSignature sr=%s&sig=%s&se=%ld%s%s", esr,
			 esig, se, skn ? "&skn=" : "", skn ? skn : "");
		ret = strdup(out);
	}
	free(esig);
	free(esr);
	free(sig);
	return ret;
}

struct soft_key {
	const uint8_t *key;
	size_t len;
};

static int soft_mac(void *key, const uint8_t *msg, size_t n, uint8_t mac[32])
{
	const struct soft_key *k = key;
	unsigned int mlen = 0;
	return HMAC(EVP_sha256(), k->key, (int)k->len, msg, n, mac, &mlen) && mlen == 32 ? 0 : -1;
}

char *sas_token(const char *sr, const char *key_b64, long ttl, const char *skn)
{
	size_t klen;
	uint8_t *key = b64_decode(key_b64, strlen(key_b64), 0, &klen);
	if (!key)
		return NULL;
	struct soft_key k = {key, klen};
	char *ret = sas_sign(sr, ttl, skn, soft_mac, &k);
	OPENSSL_cleanse(key, klen);
	free(key);
	return ret;
}

void http_cleanup(void)
{
	client_clear();
	SSL_CTX_free(ctx);
	ctx = NULL;
}
