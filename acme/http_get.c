/* The http-01 validator's HTTP/1.1 GET (see http_get.h): a response
 * parser that takes bytes as they come, and the connection around it
 * (non-blocking connect bounded by the timeout, then reads and writes
 * bounded by twice it, with poll only when a socket would block). TLS is
 * OpenSSL with one client context for the process. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acme/http_get.h"

void acme_http_resp_init(struct acme_http_resp *r)
{
	r->status = 0;
	r->location = NULL;
	r->body[0] = '\0';
	r->body_len = 0;
	r->too_long = false;
	r->why = NULL;
	r->state = ACME_HTTP_HEAD;
	r->head_len = 0;
	r->left = 0;
	r->line_len = 0;
	r->no_body = false;
}

static int fail(struct acme_http_resp *r, const char *why)
{
	r->why = why;
	return -1;
}

static int too_long(struct acme_http_resp *r)
{
	r->too_long = true;
	return fail(r, "the response body is too long");
}

/* Appends n body bytes; -1 past the cap. */
static int body_add(struct acme_http_resp *r, const char *p, size_t n)
{
	if (n > ACME_HTTP_BODY_MAX - r->body_len)
		return too_long(r);
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Content-Length's value: digits only, at most 18 of them. */
static int parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++) {
		if (i == 18)
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0 || v[i] != '\0')
		return -1;
	*out = n;
	return 0;
}

/* Parses the complete head in r->head (NUL-terminated at head_len) and
 * sets the body's framing. 0, 1 for a 1xx to skip, or -1. */
static int parse_head(struct acme_http_resp *r)
{
	char *s = r->head, *end = r->head + r->head_len, *nl;
	bool chunked = false, have_len = false;
	uint64_t len = 0;
	int first = 1;

	if (memchr(r->head, '\0', r->head_len) != NULL)
		return fail(r, "a NUL byte in the response head");
	for (; s < end; s = nl + 1) {
		char *eol, *colon, *v, *ve;
		nl = memchr(s, '\n', (size_t)(end - s));
		eol = nl;
		if (eol > s && eol[-1] == '\r')
			eol--;
		*eol = '\0';
		if (memchr(s, '\r', (size_t)(eol - s)) != NULL)
			return fail(r, "a bare CR in the response head");
		if (first) {
			/* HTTP/1.x SP 3DIGIT [SP reason] */
			first = 0;
			if (strncmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
			    s[8] != ' ')
				return fail(r, "not an HTTP/1.0 or 1.1 status line");
			if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' ||
			    s[11] > '9' || (s[12] != '\0' && s[12] != ' '))
				return fail(r, "a malformed status code");
			r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
			continue;
		}
		if (eol == s)
			break; /* the empty line that ends the head */
		if (is_ows(*s))
			return fail(r, "a folded header line");
		for (colon = s; *colon != '\0' && *colon != ':'; colon++)
			if (!is_tchar((unsigned char)*colon))
				return fail(r, "a malformed header name");
		if (*colon != ':' || colon == s)
			return fail(r, "a header line without a name and colon");
		*colon = '\0';
		for (v = colon + 1; is_ows(*v); v++)
			;
		for (ve = eol; ve > v && is_ows(ve[-1]); ve--)
			;
		*ve = '\0';
		if (strcasecmp(s, "Content-Length") == 0) {
			uint64_t n;
			if (parse_length(v, &n) != 0 || (have_len && n != len))
				return fail(r, "a malformed Content-Length");
			have_len = true;
			len = n;
		} else if (strcasecmp(s, "Transfer-Encoding") == 0) {
			/* We send no TE and no Accept-Encoding: chunked alone. */
			if (strcasecmp(v, "chunked") != 0 || chunked)
				return fail(r, "a Transfer-Encoding other than chunked");
			chunked = true;
		} else if (strcasecmp(s, "Location") == 0) {
			if (r->location != NULL)
				return fail(r, "two Location headers");
			r->location = v;
		}
	}
	if (r->status < 200) {
		if (r->status == 101)
			return fail(r, "a 101 Switching Protocols to a GET");
		return 1;
	}
	r->no_body = r->status == 204 || r->status == 304;
	if (r->no_body) {
		r->state = ACME_HTTP_DONE;
	} else if (chunked) { /* RFC 9112 6.3: it overrides Content-Length */
		r->state = ACME_HTTP_CHUNK_SIZE;
		r->line_len = 0;
	} else if (have_len) {
		if (len > ACME_HTTP_BODY_MAX)
			return too_long(r);
		r->left = len;
		r->state = len == 0 ? ACME_HTTP_DONE : ACME_HTTP_BODY_LEN;
	} else {
		r->state = ACME_HTTP_BODY_EOF;
	}
	return 0;
}

/* A chunk-size line (in r->line, without its LF): hex digits, optional
 * whitespace and extensions. */
static int parse_chunk_size(struct acme_http_resp *r)
{
	size_t n = r->line_len, i;
	uint64_t size = 0;

	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++) {
		char c = r->line[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16;
		if (d == 16)
			break;
		if (i == 15)
			return fail(r, "a chunk size too large");
		size = size * 16 + d;
	}
	if (i == 0)
		return fail(r, "a malformed chunk size");
	while (i < n && is_ows(r->line[i]))
		i++;
	if (i < n && r->line[i] != ';')
		return fail(r, "a malformed chunk size");
	if (memchr(r->line, '\r', n) != NULL)
		return fail(r, "a bare CR in a chunk size line");
	if (size > ACME_HTTP_BODY_MAX - r->body_len)
		return too_long(r);
	r->left = size;
	r->line_len = 0;
	r->head_len = 0; /* counts the trailer's bytes */
	r->state = size == 0 ? ACME_HTTP_TRAILER : ACME_HTTP_CHUNK_DATA;
	return 0;
}

/* The end of the head: the last two lines ended here (LF LF or LF CR LF). */
static bool head_ends(const struct acme_http_resp *r)
{
	size_t n = r->head_len;

	return (n >= 2 && r->head[n - 2] == '\n') ||
	       (n >= 3 && r->head[n - 2] == '\r' && r->head[n - 3] == '\n');
}

int acme_http_feed(struct acme_http_resp *r, const char *p, size_t n)
{
	if (r->why != NULL)
		return -1;
	if (n == 0) { /* the end of the connection */
		switch (r->state) {
		case ACME_HTTP_DONE:
		case ACME_HTTP_BODY_EOF: r->state = ACME_HTTP_DONE; return 1;
		case ACME_HTTP_HEAD:
			return fail(r, r->head_len == 0
					       ? "an empty response"
					       : "the connection closed in the response head");
		case ACME_HTTP_BODY_LEN:
			return fail(r, "the connection closed before Content-Length bytes");
		default: return fail(r, "the connection closed in a chunked body");
		}
	}
	while (n > 0 && r->state != ACME_HTTP_DONE) {
		size_t k;
		int rc;
		switch (r->state) {
		case ACME_HTTP_HEAD:
			if (r->head_len == ACME_HTTP_HEAD_MAX)
				return fail(r, "the response head is too long");
			r->head[r->head_len++] = *p++;
			n--;
			if (r->head[r->head_len - 1] != '\n' || !head_ends(r))
				break;
			r->head[r->head_len] = '\0';
			if ((rc = parse_head(r)) < 0)
				return -1;
			if (rc == 1) /* a 1xx: the real response follows */
				acme_http_resp_init(r);
			break;
		case ACME_HTTP_BODY_LEN:
		case ACME_HTTP_CHUNK_DATA:
			k = n < r->left ? n : (size_t)r->left;
			if (body_add(r, p, k) != 0)
				return -1;
			p += k;
			n -= k;
			r->left -= k;
			if (r->left == 0) {
				r->state = r->state == ACME_HTTP_BODY_LEN ? ACME_HTTP_DONE
									  : ACME_HTTP_CHUNK_END;
				r->line_len = 0;
			}
			break;
		case ACME_HTTP_BODY_EOF:
			if (body_add(r, p, n) != 0)
				return -1;
			n = 0;
			break;
		case ACME_HTTP_CHUNK_SIZE:
			if (*p == '\n') {
				p++;
				n--;
				if (parse_chunk_size(r) != 0)
					return -1;
				break;
			}
			if (r->line_len == sizeof r->line)
				return fail(r, "a chunk size line too long");
			r->line[r->line_len++] = *p++;
			n--;
			break;
		case ACME_HTTP_CHUNK_END:
			if (*p == '\r' && r->line_len == 0) {
				r->line_len = 1;
			} else if (*p == '\n') {
				r->state = ACME_HTTP_CHUNK_SIZE;
				r->line_len = 0;
			} else {
				return fail(r, "a chunk longer than its size");
			}
			p++;
			n--;
			break;
		case ACME_HTTP_TRAILER:
			if (++r->head_len > ACME_HTTP_HEAD_MAX)
				return fail(r, "the trailer is too long");
			if (*p == '\n') {
				if (r->line_len == 0)
					r->state = ACME_HTTP_DONE;
				r->line_len = 0;
			} else if (*p != '\r' || r->line_len > 0) {
				r->line_len++;
			}
			p++;
			n--;
			break;
		case ACME_HTTP_DONE: break;
		}
	}
	return r->state == ACME_HTTP_DONE ? 1 : 0;
}

/* --- the connection ------------------------------------------------------------------------ */

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static SSL_CTX *tls_ctx; /* NULL when it could not be made */

static void tls_init(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	if (c == NULL)
		return;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	/* Section 8.3: the certificate of an https redirect is not checked. */
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	/* Many servers close without close_notify; the framing says when a
	 * body is complete. */
	SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
	tls_ctx = c;
}

struct conn {
	const struct acme_http_req *q;
	int fd;
	SSL *ssl;
	struct timespec deadline; /* of the whole exchange */
	short revents;		  /* of the last wait_fd() */
};

/* Milliseconds left until until, at least 0. */
static int ms_left(const struct timespec *until)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(until->tv_sec - now.tv_sec) * 1000 +
	     (until->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

/* Waits until fd is ready for events or until passes: 0, or -1 with *e.
 * Past until it fails even when fd is ready: a peer whose bytes keep
 * coming must not hold us past the deadline. */
static int wait_fd(struct conn *c, short events, const struct timespec *until, const char *doing,
		   struct acme_err *e)
{
	struct pollfd pfd = {.fd = c->fd, .events = events};
	int rc, ms;

	do
		rc = (ms = ms_left(until)) > 0 ? poll(&pfd, 1, ms) : 0;
	while (rc < 0 && errno == EINTR);
	c->revents = pfd.revents;
	if (rc > 0)
		return 0;
	return acme_fail(e, ERR_ACME_CONNECTION, "%s %.60s port %u: %s", doing, c->q->host,
			 c->q->port, rc == 0 ? "timed out" : strerror(errno));
}

static int tcp_connect(struct conn *c, struct acme_err *e)
{
	const struct acme_http_req *q = c->q;
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct timespec until;
	socklen_t sl;
	int err = 0;

	if (inet_pton(AF_INET, q->addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)q->port);
		sl = sizeof *in4;
	} else if (inet_pton(AF_INET6, q->addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)q->port);
		sl = sizeof *in6;
	} else {
		return acme_fail(e, ERR_ACME_CONNECTION, "bad address %.60s", q->addr);
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&ss, sl) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return acme_fail(e, ERR_ACME_CONNECTION, "cannot connect to %.60s port %u: %s",
				 q->host, q->port, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += q->timeout_s;
	if (ms_left(&c->deadline) < ms_left(&until))
		until = c->deadline;
	if (wait_fd(c, POLLOUT, &until, "connecting to", e) != 0)
		return -1;
	if ((c->revents & (POLLERR | POLLHUP)) == 0)
		return 0; /* writable without an error: connected */
	sl = sizeof err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
		err = errno;
	if (err != 0)
		return acme_fail(e, ERR_ACME_CONNECTION, "cannot connect to %.60s port %u: %s",
				 q->host, q->port, strerror(err));
	return 0;
}

/* A TLS call's result: 0 wait and retry, -1 failed (*e). errno is cleared
 * before each TLS call: SSL_ERROR_SYSCALL with errno 0 is a peer that
 * closed, and a stale errno would name another failure. */
static int tls_step(struct conn *c, int ret, const char *doing, struct acme_err *e)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ: return wait_fd(c, POLLIN, &c->deadline, doing, e) == 0 ? 0 : -1;
	case SSL_ERROR_WANT_WRITE: return wait_fd(c, POLLOUT, &c->deadline, doing, e) == 0 ? 0 : -1;
	case SSL_ERROR_SYSCALL:
		return acme_fail(e, ERR_ACME_CONNECTION, "%s %.60s port %u: %s", doing, c->q->host,
				 c->q->port,
				 errno != 0 ? strerror(errno) : "the connection closed");
	default:
		return acme_fail(e, ERR_ACME_TLS, "TLS with %.60s port %u failed (%s)", c->q->host,
				 c->q->port, doing);
	}
}

static int tls_start(struct conn *c, struct acme_err *e)
{
	unsigned char raw[16];
	int rc;

	pthread_once(&tls_once, tls_init);
	if (tls_ctx == NULL || (c->ssl = SSL_new(tls_ctx)) == NULL)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no TLS context");
	/* The host name as SNI; never an IP address (RFC 6066 section 3). */
	if ((inet_pton(AF_INET, c->q->host, raw) != 1 &&
	     inet_pton(AF_INET6, c->q->host, raw) != 1 &&
	     SSL_set_tlsext_host_name(c->ssl, c->q->host) != 1) ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "cannot set up TLS");
	for (errno = 0; (rc = SSL_connect(c->ssl)) != 1; errno = 0)
		if (tls_step(c, rc, "handshaking with", e) != 0) {
			if (e->code != ERR_ACME_TLS)
				e->code = ERR_ACME_TLS; /* any handshake failure is tls */
			return -1;
		}
	return 0;
}

static int conn_write(struct conn *c, const char *p, size_t n, struct acme_err *e)
{
	while (n > 0) {
		if (c->ssl != NULL) {
			size_t k = 0;
			int rc;
			errno = 0;
			rc = SSL_write_ex(c->ssl, p, n, &k);
			if (rc != 1) {
				if (tls_step(c, rc, "sending to", e) != 0)
					return -1;
				continue;
			}
			p += k;
			n -= k;
			continue;
		}
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(c, POLLOUT, &c->deadline, "sending to", e) != 0)
				return -1;
		} else if (errno != EINTR) {
			return acme_fail(e, ERR_ACME_CONNECTION, "sending to %.60s port %u: %s",
					 c->q->host, c->q->port, strerror(errno));
		}
	}
	return 0;
}

/* Reads what is there, waiting when nothing is: the count, 0 at the end
 * of the connection, or -1 with *e. */
static ssize_t conn_read(struct conn *c, char *buf, size_t len, struct acme_err *e)
{
	/* Bytes that never stop (endless 1xx responses) meet the deadline
	 * here, since the reads below do not wait for them. */
	if (ms_left(&c->deadline) == 0)
		return wait_fd(c, POLLIN, &c->deadline, "reading from", e);
	for (;;) {
		if (c->ssl != NULL) {
			size_t k = 0;
			int rc;
			errno = 0;
			rc = SSL_read_ex(c->ssl, buf, len, &k);
			if (rc == 1)
				return (ssize_t)k;
			if (SSL_get_error(c->ssl, rc) == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (tls_step(c, rc, "reading from", e) != 0)
				return -1;
			continue;
		}
		ssize_t k = recv(c->fd, buf, len, 0);
		if (k >= 0)
			return k;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(c, POLLIN, &c->deadline, "reading from", e) != 0)
				return -1;
		} else if (errno != EINTR) {
			return acme_fail(e, ERR_ACME_CONNECTION, "reading from %.60s port %u: %s",
					 c->q->host, c->q->port, strerror(errno));
		}
	}
}

int acme_http_get(const struct acme_http_req *q, struct acme_http_resp *r, struct acme_err *e)
{
	struct conn c = {.q = q, .fd = -1};
	char buf[4096], port[8] = "";
	bool v6 = strchr(q->host, ':') != NULL;
	int n, rc = -1;

	acme_http_resp_init(r);
	if (q->port != (q->tls ? 443u : 80u)) /* Host names the port when not the default */
		snprintf(port, sizeof port, ":%u", q->port);
	n = snprintf(
		buf, sizeof buf,
		"GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\n"
		"User-Agent: orchardd-acme-validator\r\nAccept: */*\r\nConnection: close\r\n\r\n",
		q->target, v6 ? "[" : "", q->host, v6 ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof buf)
		return acme_fail(e, ERR_ACME_CONNECTION, "a URL too long to fetch");
	clock_gettime(CLOCK_MONOTONIC, &c.deadline);
	c.deadline.tv_sec += 2 * (time_t)q->timeout_s;
	if (tcp_connect(&c, e) != 0 || (q->tls && tls_start(&c, e) != 0) ||
	    conn_write(&c, buf, (size_t)n, e) != 0)
		goto out;
	for (;;) {
		ssize_t k = conn_read(&c, buf, sizeof buf, e);
		int done;
		if (k < 0)
			goto out;
		if ((done = acme_http_feed(r, buf, (size_t)k)) < 0) {
			if (r->too_long)
				acme_fail(e, ERR_ACME_INCORRECT_RESPONSE, "%s", r->why);
			else
				acme_fail(e, ERR_ACME_CONNECTION, "%.60s port %u: %s", q->host,
					  q->port, r->why);
			goto out;
		}
		if (done == 1)
			break;
	}
	rc = 0;
out:
	if (c.ssl != NULL) {
		SSL_free(c.ssl);
		ERR_clear_error();
	}
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}
