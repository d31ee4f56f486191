/* clients/attest/https.c, the device-side HTTPS client, against a real
 * peer in a thread of this test (plain sockets, and OpenSSL for the TLS
 * cases): framing (Content-Length, chunked, HEAD, 1xx), the headers the
 * ACME/DPS/depot flows read, keep-alive and the one retry of a stale kept
 * connection, every malformed answer refused with the body dropped, the
 * body cap, timeout and interrupt, the roots and the host name checked,
 * the TLS 1.2 cap, the client certificate, and https_proxy's CONNECT
 * tunnel (a proxy in a second thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients/attest/https.h"

static long long ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the peer ------------------------------------------------------------ */

#define ANSWERS_MAX 8
/* One canned answer per request, in order; CLOSE after one: the peer
 * closes the connection once it is written; "" (HANG): it never answers. */
#define CLOSE "\x01"

static struct peer {
	int lfd, port;
	SSL_CTX *tls;
	const char *answers[ANSWERS_MAX];
	int next, accepts;
	char buf[8192]; /* the request being read */
	char req[8192]; /* the last request, head and body */
	char tls_version[16];
	bool client_cert; /* the last TLS peer presented one */
	pthread_t th;
} P;

static ssize_t p_read(SSL *s, int fd, char *b, size_t n)
{
	if (!s)
		return recv(fd, b, n, 0);
	size_t got = 0;
	return SSL_read_ex(s, b, n, &got) ? (ssize_t)got : -1;
}

static void p_write(SSL *s, int fd, const char *b, size_t n)
{
	size_t done = 0;
	if (s)
		SSL_write_ex(s, b, n, &done);
	else if (send(fd, b, n, MSG_NOSIGNAL) < 0)
		return;
}

static void *peer_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(P.lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		P.accepts++;
		SSL *s = NULL;
		if (P.tls) {
			s = SSL_new(P.tls);
			SSL_set_fd(s, fd);
			if (SSL_accept(s) != 1) {
				ERR_clear_error();
				SSL_free(s);
				close(fd);
				continue;
			}
			snprintf(P.tls_version, sizeof(P.tls_version), "%s", SSL_get_version(s));
			X509 *c = SSL_get1_peer_certificate(s);
			P.client_cert = c != NULL;
			X509_free(c);
		}
		for (bool open = true; open;) {
			size_t n = 0;
			char *end = NULL;
			P.buf[0] = '\0';
			while (!(end = strstr(P.buf, "\r\n\r\n"))) {
				ssize_t r = p_read(s, fd, P.buf + n, sizeof(P.buf) - 1 - n);
				if (r <= 0) {
					open = false;
					break;
				}
				n += (size_t)r;
				P.buf[n] = '\0';
			}
			if (!open)
				break;
			const char *a = P.next < ANSWERS_MAX ? P.answers[P.next] : NULL;
			if (strcasestr(P.buf, "Expect: 100-continue") && a) {
				if (strstr(a, " 413 ")) { /* refused unread, as orchardd's cap */
					P.next++;
					memcpy(P.req, P.buf, n + 1);
					p_write(s, fd, a + 1, strlen(a + 1));
					break;
				}
				p_write(s, fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			}
			const char *cl = strcasestr(P.buf, "Content-Length:");
			size_t want =
				(size_t)(end + 4 - P.buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
			while (n < want) {
				ssize_t r = p_read(s, fd, P.buf + n, sizeof(P.buf) - 1 - n);
				if (r <= 0)
					break;
				n += (size_t)r;
				P.buf[n] = '\0';
			}
			memcpy(P.req, P.buf, n + 1);
			P.next++;
			if (!a || !a[0]) { /* hang: the client's deadline or interrupt */
				char b[64];
				while (p_read(s, fd, b, sizeof(b)) > 0)
					;
				break;
			}
			bool close_after = a[0] == CLOSE[0];
			if (close_after)
				a++;
			p_write(s, fd, a, strlen(a));
			open = !close_after;
		}
		if (s) {
			SSL_shutdown(s);
			SSL_free(s);
		}
		close(fd);
		ERR_clear_error();
	}
}

/* A listening socket on 127.0.0.1, its port in *port. */
static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&a, &al);
	*port = ntohs(a.sin_port);
	return fd;
}

static void peer_start(SSL_CTX *tls)
{
	memset(&P, 0, sizeof(P));
	P.tls = tls;
	P.lfd = listen_loopback(&P.port);
	pthread_create(&P.th, NULL, peer_main, NULL);
}

/* The client's kept connection closes first: the peer waits on it. */
static void peer_stop(void)
{
	oa_https_done();
	shutdown(P.lfd, SHUT_RDWR);
	close(P.lfd);
	pthread_join(P.th, NULL);
}

static void answers(const char *a0, const char *a1, const char *a2)
{
	P.answers[0] = a0;
	P.answers[1] = a1;
	P.answers[2] = a2;
	P.next = 0;
}

static char url[128];
static const char *U(const char *scheme, const char *host, const char *path)
{
	snprintf(url, sizeof(url), "%s://%s:%d%s", scheme, host, P.port, path);
	return url;
}

static int get(const char *method, const char *u, struct oa_https_resp *r, const char **why)
{
	struct oa_https_req q = {.method = method, .url = u, .timeout_s = 5};
	return oa_https_request(&q, r, why);
}

/* A failed request leaves nothing in *r. */
static void assert_empty(const struct oa_https_resp *r)
{
	assert_int_equal(r->status, 0);
	assert_null(r->body);
	assert_null(r->location);
	assert_null(r->nonce);
}

/* --- plain HTTP: framing and headers ------------------------------------- */

static void test_headers_and_body(void **state)
{
	(void)state;
	peer_start(NULL);
	answers("HTTP/1.1 201 Created\r\nLocation: https://x/acct/1\r\n"
		"replay-nonce:  n0nce \r\nLink: <https://x/dir>;rel=\"index\"\r\n"
		"Link: <https://x/alt>;rel=\"alternate\"\r\nRetry-After: 7\r\n"
		"Content-Type: application/json\r\nETag: \"abc\"\r\n"
		"Content-Range: bytes 0-1/2\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
		NULL, NULL);
	struct oa_https_req q = {.method = "POST",
				 .url = U("http", "127.0.0.1", "/new-acct?x=1"),
				 .headers = "Content-Type: application/jose+json\r\n",
				 .body = "{\"a\":1}",
				 .len = 7};
	struct oa_https_resp r;
	const char *why = NULL;
	assert_int_equal(oa_https_request(&q, &r, &why), 0);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "{\"ok\":true}");
	assert_int_equal(r.len, 11);
	assert_string_equal(r.location, "https://x/acct/1");
	assert_string_equal(r.nonce, "n0nce");
	assert_string_equal(r.link,
			    "<https://x/dir>;rel=\"index\", <https://x/alt>;rel=\"alternate\"");
	assert_int_equal(r.retry_after, 7);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.etag, "\"abc\"");
	assert_string_equal(r.content_range, "bytes 0-1/2");
	oa_https_resp_free(&r);
	assert_non_null(strstr(P.req, "POST /new-acct?x=1 HTTP/1.1\r\n"));
	char host[64];
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", P.port);
	assert_non_null(strstr(P.req, host));
	assert_non_null(strstr(P.req, "Content-Type: application/jose+json\r\n"));
	assert_non_null(strstr(P.req, "Content-Length: 7\r\n\r\n{\"a\":1}"));
	peer_stop();
}

/* Keep-alive: one connection for many requests (chunked, HEAD, 1xx); a
 * "Connection: close" answer ends it; a kept connection the peer closed
 * is replaced once, without the caller seeing it. */
static void test_keep_alive(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	peer_start(NULL);
	answers("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nReplay-Nonce: h\r\nContent-Length: 99\r\n\r\n",
		CLOSE "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(get("GET", U("http", "127.0.0.1", "/a"), &r, &why), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "abcde");
	oa_https_resp_free(&r);
	assert_int_equal(get("HEAD", U("http", "127.0.0.1", "/n"), &r, &why), 0);
	assert_string_equal(r.nonce, "h");
	assert_null(r.body);
	oa_https_resp_free(&r);
	assert_int_equal(get("GET", U("http", "127.0.0.1", "/c"), &r, &why), 0);
	assert_int_equal(r.status, 204);
	oa_https_resp_free(&r);
	assert_int_equal(P.accepts, 1);
	/* The peer closed after the 204 (but said nothing): a new one. */
	answers(CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2", NULL);
	assert_int_equal(get("GET", U("http", "127.0.0.1", "/d"), &r, &why), 0);
	assert_string_equal(r.body, "1");
	oa_https_resp_free(&r);
	assert_int_equal(get("GET", U("http", "127.0.0.1", "/e"), &r, &why), 0);
	assert_string_equal(r.body, "2");
	oa_https_resp_free(&r);
	assert_int_equal(P.accepts, 3);
	peer_stop();
}

/* A body over 1 KiB waits for "100 Continue"; a 413 sent instead is the
 * answer (not a failed write), and the body is never sent. */
static void test_expect_continue(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	static char big[3000];
	memset(big, 'b', sizeof(big) - 2);
	big[sizeof(big) - 2] = 'E';
	peer_start(NULL);
	answers("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		CLOSE "HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\n\r\nbig",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	struct oa_https_req q = {.method = "POST",
				 .url = U("http", "127.0.0.1", "/up"),
				 .body = big,
				 .len = strlen(big),
				 .timeout_s = 5};
	long long t0 = ms();
	assert_int_equal(oa_https_request(&q, &r, &why), 0);
	assert_true(ms() - t0 < 900); /* the 100, not the 1 s wait */
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	assert_non_null(strstr(P.req, "Expect: 100-continue\r\n"));
	assert_non_null(strstr(P.req, "bE"));
	oa_https_resp_free(&r);
	assert_int_equal(oa_https_request(&q, &r, &why), 0);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.body, "big");
	assert_null(strstr(P.req, "bE"));
	oa_https_resp_free(&r);
	/* The refused request's connection was not kept. */
	assert_int_equal(oa_https_request(&q, &r, &why), 0);
	assert_int_equal(r.status, 200);
	oa_https_resp_free(&r);
	assert_int_equal(P.accepts, 2);
	peer_stop();
}

/* Retry-After as an HTTP-date; an HTTP/1.0 answer is not kept alive. */
static void test_retry_date_http10(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	char a0[160], date[64];
	time_t later = time(NULL) + 120;
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&later, &tm));
	snprintf(a0, sizeof(a0),
		 "HTTP/1.0 503 Busy\r\nRetry-After: %s\r\nContent-Length: 0\r\n\r\n", date);
	peer_start(NULL);
	answers(a0, "HTTP/1.1 200 OK\r\nRetry-After: junk\r\nContent-Length: 0\r\n\r\n", NULL);
	assert_int_equal(get("GET", U("http", "127.0.0.1", "/"), &r, &why), 0);
	assert_int_equal(r.status, 503);
	assert_in_range(r.retry_after, 100, 121);
	oa_https_resp_free(&r);
	assert_int_equal(get("GET", U("http", "127.0.0.1", "/"), &r, &why), 0);
	assert_int_equal(r.retry_after, -1);
	oa_https_resp_free(&r);
	assert_int_equal(P.accepts, 2);
	peer_stop();
}

struct seen {
	long status;
	char ct[32];
	size_t n;
	bool refuse;
};

static int sink(void *arg, const struct oa_https_resp *r, const char *p, size_t n)
{
	struct seen *s = arg;
	(void)p;
	s->status = r->status;
	snprintf(s->ct, sizeof(s->ct), "%s", r->content_range ? r->content_range : "");
	s->n += n;
	return s->refuse ? -1 : 0;
}

/* A sink sees the status and the headers before the bytes; a sink that
 * refuses, or a body over the cap, fails the request. */
static void test_sink_and_cap(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	peer_start(NULL);
	answers("HTTP/1.1 206 Partial\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\n\r\n"
		"56789",
		CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n01234",
		CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n01234");
	struct seen s = {0};
	struct oa_https_req q = {
		.method = "GET", .url = U("http", "127.0.0.1", "/m"), .sink = sink, .arg = &s};
	assert_int_equal(oa_https_request(&q, &r, &why), 0);
	assert_int_equal(s.status, 206);
	assert_string_equal(s.ct, "bytes 5-9/10");
	assert_int_equal(s.n, 5);
	assert_null(r.body);
	oa_https_resp_free(&r);
	s.refuse = true;
	assert_int_equal(oa_https_request(&q, &r, &why), -1);
	assert_non_null(strstr(why, "refused"));
	assert_empty(&r);
	struct oa_https_req c = {.method = "GET", .url = U("http", "127.0.0.1", "/m"), .max = 4};
	assert_int_equal(oa_https_request(&c, &r, &why), -1);
	assert_empty(&r);
	peer_stop();
}

/* Every malformed or cut answer: -1, a reason, nothing kept. */
static void test_bad_answers(void **state)
{
	(void)state;
	static const char *bad[] = {
		CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", /* cut */
		CLOSE "SSH-2.0-OpenSSH\r\n\r\n",			    /* not HTTP */
		CLOSE "HTTP/1.1 2x0 OK\r\n\r\n",			    /* status */
		CLOSE "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",	    /* length */
		CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		CLOSE "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /* chunk */
		CLOSE "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		CLOSE "HTTP/1.1 200 OK\r\nLocation: x", /* head cut */
	};
	struct oa_https_resp r;
	const char *why;
	peer_start(NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		answers(bad[i], NULL, NULL);
		why = NULL;
		assert_int_equal(get("GET", U("http", "127.0.0.1", "/"), &r, &why), -1);
		assert_non_null(why);
		assert_empty(&r);
	}
	/* A head line longer than the cap. */
	static char big[20000];
	memcpy(big, CLOSE "HTTP/1.1 200 OK\r\nX: ", 21);
	memset(big + 21, 'a', sizeof(big) - 30);
	answers(big, NULL, NULL);
	assert_int_equal(get("GET", U("http", "127.0.0.1", "/"), &r, &why), -1);
	assert_empty(&r);
	peer_stop();
}

static int stop_now(void)
{
	return 1;
}

/* A peer that never answers: the deadline, or at once the interrupt (and
 * an interrupted request is not tried again). Bad URLs, no peer. */
static void test_deadline_interrupt_urls(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	peer_start(NULL);
	answers("", "", NULL);
	struct oa_https_req q = {
		.method = "GET", .url = U("http", "127.0.0.1", "/"), .timeout_s = 1};
	long long t0 = ms();
	assert_int_equal(oa_https_request(&q, &r, &why), -1);
	assert_string_equal(why, "timed out");
	assert_true(ms() - t0 >= 900 && ms() - t0 < 3000);
	oa_https_interrupt = stop_now;
	t0 = ms();
	assert_int_equal(oa_https_request(&q, &r, &why), -1);
	assert_string_equal(why, OA_HTTPS_INTERRUPTED);
	assert_true(ms() - t0 < 500);
	oa_https_interrupt = NULL;
	int port = P.port;
	peer_stop();
	const char *urls[] = {"ftp://127.0.0.1/", "http://", "http://[::1/", "http://h:/",
			      "http://h:123456789/"};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		assert_int_equal(get("GET", urls[i], &r, &why), -1);
		assert_string_equal(why, "not an http(s) URL");
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	assert_int_equal(get("GET", url, &r, &why), -1);
	assert_string_equal(why, "connection refused");
}

/* --- TLS ----------------------------------------------------------------- */

/* A self-signed certificate for san (e.g. "IP:127.0.0.1") with a new
 * P-256 key, as PEM into pem (NUL-ended) and objects. */
static X509 *self_signed(const char *san, EVP_PKEY **key, char *pem, size_t max)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)san, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	int n = BIO_read(b, pem, (int)max - 1);
	assert_true(n > 0);
	pem[n] = '\0';
	BIO_free(b);
	*key = k;
	return x;
}

static char ca_path[64], server_pem[4096], other_pem[4096], client_pem[4096];
static X509 *server_cert, *other_cert, *client_cert;
static EVP_PKEY *server_key, *other_key, *client_key;

static SSL_CTX *server_ctx(X509 *cert, EVP_PKEY *key, bool want_client)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(c, cert);
	SSL_CTX_use_PrivateKey(c, key);
	if (want_client) {
		X509_STORE_add_cert(SSL_CTX_get_cert_store(c), client_cert);
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return c;
}

static int tls_setup(void **state)
{
	(void)state;
	server_cert = self_signed("IP:127.0.0.1,DNS:localhost", &server_key, server_pem,
				  sizeof(server_pem));
	other_cert = self_signed("DNS:other.example", &other_key, other_pem, sizeof(other_pem));
	client_cert = self_signed("DNS:device-1", &client_key, client_pem, sizeof(client_pem));
	snprintf(ca_path, sizeof(ca_path), "/tmp/test_https.%d.pem", (int)getpid());
	FILE *f = fopen(ca_path, "w");
	assert_non_null(f);
	fputs(server_pem, f);
	fputs(other_pem, f);
	fclose(f);
	return 0;
}

static int tls_teardown(void **state)
{
	(void)state;
	unlink(ca_path);
	X509_free(server_cert);
	X509_free(client_cert);
	X509_free(other_cert);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(server_key);
	EVP_PKEY_free(client_key);
	return 0;
}

static int tls_get(const char *host, const char *ca, struct oa_https_resp *r, const char **why)
{
	struct oa_https_req q = {
		.method = "GET", .url = U("https", host, "/t"), .timeout_s = 5, .ca_file = ca};
	return oa_https_request(&q, r, why);
}

/* The ca_file's roots and the URL's host checked; TLS 1.3 by default, 1.2
 * when capped. */
static void test_tls_roots_and_host(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	SSL_CTX *sc = server_ctx(server_cert, server_key, false);
	peer_start(sc);
	for (int i = 0; i < ANSWERS_MAX; i++)
		P.answers[i] = CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	assert_string_equal(r.body, "ok");
	assert_string_equal(P.tls_version, "TLSv1.3");
	oa_https_resp_free(&r);
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
	oa_https_resp_free(&r);
	/* Not a root of the system's. */
	assert_int_equal(tls_get("127.0.0.1", NULL, &r, &why), -1);
	assert_non_null(strstr(why, "certificate"));
	assert_empty(&r);
	assert_int_equal(tls_get("127.0.0.1", "/nonexistent.pem", &r, &why), -1);
	assert_string_equal(why, "cannot read the CA file");
	oa_https_tls12(true);
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	assert_string_equal(P.tls_version, "TLSv1.2");
	oa_https_resp_free(&r);
	oa_https_tls12(false);
	peer_stop();
	SSL_CTX_free(sc);
	/* A trusted certificate that names another host. */
	sc = server_ctx(other_cert, other_key, false);
	peer_start(sc);
	P.answers[0] = CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), -1);
	assert_non_null(strstr(why, "mismatch"));
	assert_empty(&r);
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), -1);
	assert_empty(&r);
	peer_stop();
	SSL_CTX_free(sc);
}

/* The client certificate: presented once set, refused when it is not the
 * key's (the setting then unchanged), forgotten with NULL. */
static void test_tls_client_cert(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	SSL_CTX *sc = server_ctx(server_cert, server_key, true);
	peer_start(sc);
	for (int i = 0; i < ANSWERS_MAX; i++)
		P.answers[i] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), -1);
	assert_empty(&r);
	/* The chain: the leaf and one more (its own issuer here). */
	char chain[8192];
	snprintf(chain, sizeof(chain), "%s%s", client_pem, client_pem);
	assert_int_equal(oa_https_use_client(chain, client_key, &why), 0);
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	assert_true(P.client_cert);
	oa_https_resp_free(&r);
	assert_int_equal(oa_https_use_client(client_pem, server_key, &why), -1);
	assert_string_equal(why, "the client certificate is not the key's");
	assert_int_equal(oa_https_use_client("junk", client_key, &why), -1);
	int accepts = P.accepts;
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0); /* still kept */
	assert_int_equal(P.accepts, accepts);
	oa_https_resp_free(&r);
	assert_int_equal(oa_https_use_client(NULL, NULL, NULL), 0);
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), -1);
	assert_empty(&r);
	peer_stop();
	SSL_CTX_free(sc);
}

/* An HTTP proxy in a thread, one connection at a time: it reads the
 * CONNECT head, answers X.answer, and when that is 2xx relays bytes to
 * the peer (127.0.0.1:P.port) both ways until a side closes. */
static struct proxy {
	int lfd, port, connects;
	const char *answer;
	char req[2048]; /* the last CONNECT head */
	pthread_t th;
} X;

static void relay(int a, int b)
{
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	char buf[4096];
	while (poll(p, 2, 5000) > 0)
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t r = recv(p[i].fd, buf, sizeof(buf), 0);
			if (r <= 0 || send(p[1 - i].fd, buf, (size_t)r, MSG_NOSIGNAL) != r)
				return;
		}
}

static void *proxy_main(void *arg)
{
	(void)arg;
	for (int fd; (fd = accept(X.lfd, NULL, NULL)) >= 0; close(fd)) {
		size_t n = 0;
		X.req[0] = '\0';
		while (!strstr(X.req, "\r\n\r\n") && n < sizeof(X.req) - 1 &&
		       recv(fd, X.req + n, 1, 0) == 1)
			X.req[++n] = '\0';
		X.connects++;
		send(fd, X.answer, strlen(X.answer), MSG_NOSIGNAL);
		if (strncmp(X.answer, "HTTP/1.1 200", 12) != 0)
			continue;
		int up = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)P.port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (connect(up, (struct sockaddr *)&a, sizeof(a)) == 0)
			relay(fd, up);
		close(up);
	}
	return NULL;
}

/* https_proxy = head, the proxy's port, tail */
static void proxy_env(const char *head, const char *tail)
{
	char v[256];
	snprintf(v, sizeof(v), "%s%d%s", head, X.port, tail);
	setenv("https_proxy", v, 1);
}

/* https URLs go through https_proxy's CONNECT tunnel (the TLS inside it
 * still checked against the URL's host), with Basic credentials from its
 * user info; no_proxy exempts hosts; a refusing or broken proxy, or one
 * that is not http://, fails the request with a reason. */
static void test_proxy_tunnel(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	char want[128];
	SSL_CTX *sc = server_ctx(server_cert, server_key, false);
	peer_start(sc);
	for (int i = 0; i < ANSWERS_MAX; i++)
		P.answers[i] = CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	memset(&X, 0, sizeof(X));
	X.lfd = listen_loopback(&X.port);
	X.answer = "HTTP/1.1 200 Connection established\r\n\r\n";
	pthread_create(&X.th, NULL, proxy_main, NULL);

	proxy_env("http://127.0.0.1:", "");
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
	assert_string_equal(r.body, "ok");
	oa_https_resp_free(&r);
	snprintf(want, sizeof(want), "CONNECT localhost:%d HTTP/1.1\r\nHost: localhost:%d\r\n\r\n",
		 P.port, P.port);
	assert_string_equal(X.req, want);
	assert_int_equal(X.connects, 1);
	/* Credentials, %-decoded, as Basic; no scheme means http://. */
	proxy_env("dev%40corp:p%3Ass@127.0.0.1:", "/");
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	oa_https_resp_free(&r);
	assert_non_null(strstr(X.req, "CONNECT 127.0.0.1:"));
	assert_non_null(strstr(X.req, "\r\nProxy-Authorization: Basic ZGV2QGNvcnA6cDpzcw==\r\n"));
	assert_int_equal(X.connects, 2);
	/* no_proxy: the host, a domain it is in, or "*"; not a bare suffix. */
	proxy_env("http://127.0.0.1:", "");
	const char *exempt[] = {"localhost", "other.example, .localhost", "*"};
	for (size_t i = 0; i < sizeof(exempt) / sizeof(*exempt); i++) {
		setenv("no_proxy", exempt[i], 1);
		assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
		oa_https_resp_free(&r);
		assert_int_equal(X.connects, 2);
	}
	setenv("no_proxy", "calhost", 1);
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
	oa_https_resp_free(&r);
	assert_int_equal(X.connects, 3);
	unsetenv("no_proxy");
	/* A URL whose host or port holds a line break injects nothing into
	 * the CONNECT head: it is no URL, and the proxy hears nothing. */
	const char *inject[] = {"https://localhost\r\nX-Injected:1/t",
				"https://localhost:1\r\nX:a/t", "https://localhost:12a/t"};
	for (size_t i = 0; i < sizeof(inject) / sizeof(*inject); i++) {
		struct oa_https_req q = {
			.method = "GET", .url = inject[i], .timeout_s = 5, .ca_file = ca_path};
		assert_int_equal(oa_https_request(&q, &r, &why), -1);
		assert_string_equal(why, "not an http(s) URL");
		assert_int_equal(X.connects, 3);
	}
	/* The TLS inside the tunnel is the URL host's: a name the certificate
	 * does not have fails as it does without a proxy. */
	assert_int_equal(tls_get("127.0.0.2", ca_path, &r, &why), -1);
	assert_empty(&r);
	/* Refusals. */
	const char *answers[][2] = {
		{"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
		 "the proxy wants authentication (407)"},
		{"HTTP/1.1 403 Forbidden\r\n\r\n", "the proxy refused the tunnel"},
		{"SSH-2.0-OpenSSH\r\n\r\n", "the proxy's answer is not HTTP"},
		{"HTTP/1.1 502 Bad Gateway\r\n", "the proxy closed the connection"},
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(*answers); i++) {
		X.answer = answers[i][0];
		assert_int_equal(tls_get("localhost", ca_path, &r, &why), -1);
		assert_string_equal(why, answers[i][1]);
		assert_empty(&r);
	}
	const char *bad[] = {"socks5://127.0.0.1:", "https://127.0.0.1:", "http://[::1:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		proxy_env(bad[i], "");
		assert_int_equal(tls_get("localhost", ca_path, &r, &why), -1);
		assert_string_equal(why, "https_proxy is not an http:// proxy URL");
	}
	unsetenv("https_proxy");
	peer_stop();
	shutdown(X.lfd, SHUT_RDWR);
	close(X.lfd);
	pthread_join(X.th, NULL);
	SSL_CTX_free(sc);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_and_body),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_sink_and_cap),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_retry_date_http10),
		cmocka_unit_test(test_bad_answers),
		cmocka_unit_test(test_deadline_interrupt_urls),
		cmocka_unit_test_setup_teardown(test_tls_roots_and_host, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_tls_client_cert, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_tunnel, tls_setup, tls_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
