/* https.c: the one HTTP/1.1 client of all device-side code, on OpenSSL
 * alone (https.h): requests and answers (keep-alive, 100-continue, chunked
 * bodies, Retry-After) over one connection (https_conn.c). Not libcurl:
 * its dependency tree (GnuTLS through librtmp, Kerberos, LDAP, libssh2,
 * nghttp2...) cost the agent about 5 MB of RSS before it did anything
 * (docs/agent.md, "Footprint"). Every transfer can be interrupted
 * (oa_https_interrupt); sockets are non-blocking and polled in 100 ms
 * steps. Born as clients/agent/http.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clients/attest/https.h"
#include "clients/attest/https_int.h"

#define HEAD_MAX 16384
/* A body over EXPECT_OVER bytes waits for "100 Continue" (at most
 * EXPECT_MS): a peer that refuses it (413) answers before it is sent.
 * Below that, sending it costs less than the round trip, which every
 * device-attest-01 answer and TPM-signed CSR (2-5 KB) paid at 1 KiB. */
#define EXPECT_OVER 65536
#define EXPECT_MS 1000

/* An exchange's reading state; malloc'd per exchange, not zeroed (32 K:
 * calloc's memset of it was 4% of bench/acme_load's instructions). */
struct reader {
	struct conn *c;
	size_t off, len;
	bool any; /* a byte of the answer arrived */
	char buf[16384];
	char line[HEAD_MAX]; /* read_head's current line */
};

static ssize_t rd_fill(struct reader *r)
{
	if (r->off < r->len)
		return (ssize_t)(r->len - r->off);
	r->off = r->len = 0;
	ssize_t n = https_conn_read(r->c, r->buf, sizeof(r->buf));
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
	char *line = rd->line;
	int rc = -1;
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

/* The request's head (and its body when inline_body: one write, see
 * exchange) in one malloc'd buffer of *n bytes, NULL when out of memory;
 * pieces copied, not formatted (asprintf and a realloc for the body were
 * most of what a request cost here besides TLS). */
static char *request_text(const struct oa_https_req *q, const struct url *u, const char *cl,
			  bool inline_body, size_t *n)
{
	bool v6 = strchr(u->host, ':') != NULL;
	const char *part[] = {q->method,
			      " ",
			      u->path,
			      " HTTP/1.1\r\nHost: ",
			      v6 ? "[" : "",
			      u->host,
			      v6 ? "]:" : ":",
			      u->port,
			      "\r\n",
			      q->headers ? q->headers : "",
			      cl,
			      "\r\n"};
	size_t len[sizeof(part) / sizeof(part[0])], total = inline_body ? q->len : 0;
	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++)
		total += len[i] = strlen(part[i]);
	char *t = malloc(total), *p = t;
	if (!t)
		return NULL;
	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
		memcpy(p, part[i], len[i]);
		p += len[i];
	}
	if (inline_body)
		memcpy(p, q->body, q->len);
	*n = total;
	return t;
}

/* One try on connection c: 0, -1 (c->err), or -2 when c was a kept one
 * and failed before any answer byte (worth one more try on a new one). */
static int exchange(struct conn *c, bool reused, const struct oa_https_req *q, const struct url *u,
		    struct oa_https_resp *r, bool *keep)
{
	char *req = NULL;
	struct reader *rd = NULL;
	int rc = -1;
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
	size_t n = 0;
	if (!(req = request_text(q, u, cl, inline_body, &n)) || !(rd = malloc(sizeof(*rd)))) {
		c->err = "out of memory";
		goto out;
	}
	rd->off = rd->len = 0;
	rd->any = false;
	rd->c = c;
	if (https_conn_write(c, req, n) < 0) {
		rc = reused && !c->aborted ? -2 : -1;
		goto out;
	}
	long long clen;
	bool chunked, close_after, whole, sent = !expect;
	if (expect) {
		/* Up to EXPECT_MS for the peer's word: 100 (send the body), a
		 * final answer (the body is not wanted: a 413 is read, not lost
		 * to a reset), or silence (send it anyway). */
		long long dl = c->deadline, soon = https_now_ms() + EXPECT_MS;
		c->deadline = soon < dl ? soon : dl;
		int h = read_head(rd, r, &clen, &chunked, &close_after, true);
		c->deadline = dl;
		if (h < 0) {
			bool silent = c->aborted && !strcmp(c->err, HTTPS_TIMED_OUT) && !rd->any &&
				      https_now_ms() < dl;
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
		if (https_conn_write(c, q->body, q->len) < 0)
			goto out;
	} else if (sent && !inline_body && q->body && q->len &&
		   https_conn_write(c, q->body, q->len) < 0) {
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
	if (https_url_parse(q->url, &u) < 0) {
		*why = "not an http(s) URL";
		return -1;
	}
	long long dl = https_now_ms() + (q->timeout_s > 0 ? q->timeout_s : 30) * 1000;
	/* Roots or cap changed since the kept connection was made: not it. */
	if (u.tls && https_tls_ctx(q->ca_file, why) == NULL)
		return -1;
	for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
		bool reused = false, keep = false;
		if (https_kept_take(&u, &c)) {
			reused = true;
		} else {
			https_kept_drop();
			c.deadline = dl;
			if (https_conn_open(&c, q->ca_file, &u) < 0) {
				*why = c.err;
				https_conn_close(&c);
				break;
			}
		}
		c.deadline = dl;
		c.err = NULL;
		c.aborted = false;
		rc = exchange(&c, reused, q, &u, r, &keep);
		if (rc == 0 && keep) {
			https_kept_put(&c);
		} else {
			*why = c.err ? c.err : "connection failed";
			https_conn_close(&c);
		}
		if (rc < 0) {
			oa_https_resp_free(r);
			if (rc == -1)
				break;
		}
	}
	return rc == 0 ? 0 : -1;
}
