/* clients/attest/https.c, the device-side HTTPS client, against a real
 * plain peer in a thread of this test (https_peer.c): framing
 * (Content-Length, chunked, HEAD, 1xx), the headers the ACME/DPS/depot
 * flows read, keep-alive and the one retry of a stale kept connection,
 * every malformed answer refused with the body dropped, the body cap,
 * timeout and interrupt. TLS and proxies: test_https_tls.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/clients/https_peer.h"

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

/* A body over 64 KiB waits for "100 Continue"; a 413 sent instead is the
 * answer (not a failed write), and the body is never sent. One of 5 KB
 * goes with the head, unasked. */
static void test_expect_continue(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	static char big[70000], small[5000];
	memset(big, 'b', sizeof(big) - 2);
	big[sizeof(big) - 2] = 'E';
	peer_start(NULL);
	answers("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		CLOSE "HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\n\r\nbig",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	memset(small, 's', sizeof(small) - 2);
	small[sizeof(small) - 2] = 'E';
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
	answers("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL, NULL);
	q.body = small;
	q.len = strlen(small);
	assert_int_equal(oa_https_request(&q, &r, &why), 0);
	assert_int_equal(r.status, 200);
	assert_null(strstr(P.req, "Expect:"));
	assert_non_null(strstr(P.req, "sE"));
	oa_https_resp_free(&r);
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
	char refused[64];
	snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/", port);
	assert_int_equal(get("GET", refused, &r, &why), -1);
	assert_string_equal(why, "connection refused");
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
