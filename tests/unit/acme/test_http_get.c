/* acme/http_get.c: the http-01 validator's response parser, fed whole and
 * a byte at a time: Content-Length, chunked (with extensions and
 * trailers), to the end of the connection, CRLF and bare LF, 1xx skipped,
 * Location; and refusals: truncated or foreign status lines, huge heads,
 * bad chunk sizes, bodies over the cap or shorter than announced; and
 * the connection's deadline when bytes keep coming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The .c itself: the connection's reads are static (before cmocka.h,
 * whose fail() macro would rename its fail()). */
#include "acme/http_get.c"

#include <cmocka.h>

/* Feeds s (whole, or a byte at a time), then the end of the connection
 * if the response is not complete yet; the last result. */
static int feed(struct acme_http_resp *r, const char *s, size_t n, bool bytewise)
{
	int rc = 0;

	acme_http_resp_init(r);
	if (bytewise) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = acme_http_feed(r, s + i, 1);
	} else if (n > 0) {
		rc = acme_http_feed(r, s, n);
	}
	if (rc == 0)
		rc = acme_http_feed(r, "", 0);
	return rc;
}

/* s parses (both ways) to status and body. */
static void ok(const char *s, int status, const char *body)
{
	struct acme_http_resp *r = malloc(sizeof *r);

	assert_non_null(r);
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		assert_int_equal(feed(r, s, strlen(s), bytewise), 1);
		assert_null(r->why);
		assert_int_equal(r->status, status);
		assert_int_equal(r->body_len, strlen(body));
		assert_string_equal(r->body, body);
	}
	free(r);
}

/* s is refused (both ways), too_long as given, with a reason that holds
 * why. */
static void bad(const char *s, size_t n, bool too_long, const char *why)
{
	struct acme_http_resp *r = malloc(sizeof *r);

	assert_non_null(r);
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		assert_int_equal(feed(r, s, n, bytewise), -1);
		assert_non_null(r->why);
		if (strstr(r->why, why) == NULL)
			fail_msg("\"%s\": why \"%s\", not \"%s\"", s, r->why, why);
		assert_int_equal(r->too_long, too_long);
		/* Once failed, it stays failed. */
		assert_int_equal(acme_http_feed(r, "x", 1), -1);
	}
	free(r);
}

#define BAD(lit, too_long, why) bad(lit, sizeof(lit) - 1, too_long, why)

static void test_content_length(void **state)
{
	(void)state;
	ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello");
	ok("HTTP/1.1 200 OK\r\ncontent-length:5\r\n\r\nhello, and what follows is ignored", 200,
	   "hello");
	ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 200, "hello");
	ok("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, "");
	ok("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno.", 404, "no.");
	/* Bare LF line ends (RFC 9112 section 2.2), and mixed. */
	ok("HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", 200, "hello");
	ok("HTTP/1.1 200 OK\r\nContent-Length: 5\n\r\nhello", 200, "hello");
	/* 204 has no body, whatever it says. */
	ok("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, "");
}

static void test_to_eof(void **state)
{
	(void)state;
	ok("HTTP/1.0 200 OK\r\n\r\nabc\r\n", 200, "abc\r\n");
	ok("HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", 200, "");
	ok("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", 200, "abc");
}

static void test_chunked(void **state)
{
	(void)state;
	ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n",
	   200, "abcdefg");
	/* Extensions, upper-case hex, whitespace, a trailer, bare LF. */
	ok("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
	   "A ;name=value\r\n0123456789\r\n1;x\na\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
	   200, "0123456789a");
	/* Transfer-Encoding wins over Content-Length (RFC 9112 section 6.3). */
	ok("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
	   "2\r\nok\r\n0\r\n\r\n",
	   200, "ok");
	/* Leading zeros. */
	ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0002\r\nok\r\n000\r\n\r\n", 200,
	   "ok");
}

static void test_interim_and_location(void **state)
{
	struct acme_http_resp *r = malloc(sizeof *r);
	static const char redirect[] = "HTTP/1.1 100 Continue\r\n\r\n"
				       "HTTP/1.1 302 Found\r\nLocation:  /next?a=b \r\n"
				       "Content-Length: 4\r\n\r\nmove";
	(void)state;
	assert_non_null(r);
	ok("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200,
	   "ok");
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		assert_int_equal(feed(r, redirect, sizeof redirect - 1, bytewise), 1);
		assert_int_equal(r->status, 302);
		assert_non_null(r->location);
		assert_string_equal(r->location, "/next?a=b");
		assert_string_equal(r->body, "move");
	}
	assert_int_equal(feed(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			      strlen("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), false),
			 1);
	assert_null(r->location);
	free(r);
}

static void test_status_line(void **state)
{
	(void)state;
	BAD("", false, "an empty response");
	BAD("HTTP/1.1 20", false, "closed in the response head");
	BAD("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false, "closed in the response head");
	BAD("HTTP/2 200\r\n\r\n", false, "status line");
	BAD("HTTP/1.2 200 OK\r\n\r\n", false, "status line");
	BAD("ICY 200 OK\r\n\r\n", false, "status line");
	BAD("hello\r\n\r\n", false, "status line");
	BAD("HTTP/1.1  200 OK\r\n\r\n", false, "status");
	BAD("HTTP/1.1 2000 OK\r\n\r\n", false, "status code");
	BAD("HTTP/1.1 20x OK\r\n\r\n", false, "status code");
	BAD("HTTP/1.1 600 OK\r\n\r\n", false, "status code");
	BAD("HTTP/1.1 101 Switching Protocols\r\n\r\n", false, "101");
}

static void test_headers(void **state)
{
	char *big = malloc(ACME_HTTP_HEAD_MAX + 100);
	size_t n;
	(void)state;
	assert_non_null(big);
	BAD("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", false, "header name");
	BAD("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", false, "without a name");
	BAD("HTTP/1.1 200 OK\r\n: empty\r\n\r\n", false, "without a name");
	BAD("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", false, "folded");
	BAD("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", false, "bare CR");
	BAD("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", false, "NUL");
	BAD("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab", false,
	    "Content-Length");
	BAD("HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\nab", false, "Content-Length");
	BAD("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, "Content-Length");
	BAD("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", false, "Content-Length");
	BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false,
	    "Transfer-Encoding");
	BAD("HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\n\r\n", false, "Location");
	/* A head over ACME_HTTP_HEAD_MAX, even with a short body. */
	n = (size_t)snprintf(big, ACME_HTTP_HEAD_MAX + 100, "HTTP/1.1 200 OK\r\nX: ");
	memset(big + n, 'a', ACME_HTTP_HEAD_MAX);
	n += ACME_HTTP_HEAD_MAX;
	bad(big, n, false, "head is too long");
	free(big);
}

static void test_chunk_sizes(void **state)
{
	(void)state;
#define CH "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	BAD(CH "zz\r\n", false, "chunk size");
	BAD(CH "\r\n", false, "chunk size");
	BAD(CH "-1\r\n", false, "chunk size");
	BAD(CH "1 2\r\nab\r\n", false, "chunk size");
	BAD(CH "0x2\r\nab\r\n", false, "chunk size");
	BAD(CH "1\r\r\nab\r\n", false, "chunk size");
	BAD(CH "fffffffffffffffff\r\n", false, "too large");
	BAD(CH "3\r\nabcd\r\n0\r\n\r\n", false, "longer than its size");
	BAD(CH "4\r\nab", false, "closed in a chunked body");
	BAD(CH "2\r\nab\r\n", false, "closed in a chunked body");
	BAD(CH "0\r\nX: 1\r\n", false, "closed in a chunked body");
	/* A chunk-size line with endless extensions. */
	{
		char line[sizeof CH + 400];
		memcpy(line, CH, sizeof CH - 1);
		memset(line + sizeof CH - 1, ';', 400);
		line[sizeof CH - 1] = '1';
		bad(line, sizeof line - 1, false, "chunk size line too long");
	}
}

static void test_body_cap(void **state)
{
	size_t max = ACME_HTTP_BODY_MAX, n;
	char *s = malloc(max + 400);
	struct acme_http_resp *r = malloc(sizeof *r);
	(void)state;
	assert_non_null(s);
	assert_non_null(r);
	/* Exactly the cap: fine, with Content-Length and to the end. */
	n = (size_t)snprintf(s, 200, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", max);
	memset(s + n, 'k', max);
	assert_int_equal(feed(r, s, n + max, false), 1);
	assert_int_equal(r->body_len, max);
	n = (size_t)snprintf(s, 200, "HTTP/1.0 200 OK\r\n\r\n");
	memset(s + n, 'k', max);
	assert_int_equal(feed(r, s, n + max, false), 1);
	assert_int_equal(r->body_len, max);
	/* One byte more: too long, announced or not. */
	n = (size_t)snprintf(s, 200, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", max + 1);
	bad(s, n, true, "the response body is too long");
	n = (size_t)snprintf(s, 200, "HTTP/1.0 200 OK\r\n\r\n");
	memset(s + n, 'k', max + 1);
	bad(s, n + max + 1, true, "the response body is too long");
	n = (size_t)snprintf(s, 200, CH "%zx\r\n", max + 1);
	bad(s, n, true, "the response body is too long");
	/* Two chunks that together are over it. */
	n = (size_t)snprintf(s, 200, CH "%zx\r\n", max);
	memset(s + n, 'k', max);
	n += max;
	n += (size_t)snprintf(s + n, 200, "\r\n1\r\nk\r\n0\r\n\r\n");
	bad(s, n, true, "the response body is too long");
	/* Missing body: Content-Length announced, fewer bytes before the end. */
	BAD("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false,
	    "closed before Content-Length");
	BAD("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, "closed before Content-Length");
#undef CH
	free(s);
	free(r);
}

/* Bytes that keep coming do not hold the GET past its deadline: the
 * deadline is checked when the socket has data too, not only when a read
 * would block (a target streaming 1xx responses as fast as we read them
 * never let a read block). Here the deadline has passed and data waits. */
static void test_deadline_with_data(void **state)
{
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct acme_http_req q = {.addr = "127.0.0.1", .port = 80, .host = "h", .target = "/"};
	struct conn c = {.q = &q};
	struct acme_err e = {0};
	char buf[64];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c.fd = sv[0];
	assert_int_equal(send(sv[1], interim, sizeof interim - 1, 0), (ssize_t)sizeof interim - 1);
	clock_gettime(CLOCK_MONOTONIC, &c.deadline);
	assert_int_equal(conn_read(&c, buf, sizeof buf, &e), -1);
	assert_int_equal(e.code, ERR_ACME_CONNECTION);
	assert_non_null(strstr(e.detail, "timed out"));
	e.code = 0;
	assert_int_equal(wait_fd(&c, POLLIN, &c.deadline, "reading from", &e), -1);
	assert_int_equal(e.code, ERR_ACME_CONNECTION);
	/* Before the deadline the bytes are read. */
	c.deadline.tv_sec += 10;
	assert_int_equal(conn_read(&c, buf, sizeof buf, &e), (ssize_t)sizeof interim - 1);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_to_eof),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_interim_and_location),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_chunk_sizes),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_deadline_with_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
