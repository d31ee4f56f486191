/* Unit tests for the edge's rules as a scan over header fields and over the
 * raw request target: every refusal, and what must stay allowed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/edge.h"

struct field {
	const char *name, *value;
	size_t value_len; /* 0: strlen(value) */
};

static enum err_code scan(const struct field *f, bool http11, char *detail)
{
	struct edge_scan s;

	edge_scan_init(&s);
	for (; f->name != NULL; f++)
		edge_scan_field(&s, f->name, strlen(f->name), f->value,
				f->value_len ? f->value_len : strlen(f->value), false);
	enum err_code err = edge_scan_finish(&s, http11);
	if (detail != NULL)
		memcpy(detail, s.detail, sizeof s.detail);
	return err;
}

#define FIELDS(...) ((const struct field[]){__VA_ARGS__, {NULL, NULL, 0}})

static void test_ordinary_requests_pass(void **state)
{
	(void)state;
	assert_int_equal(scan(FIELDS({"Host", "x", 0}), true, NULL), ERR__COUNT);
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"Content-Length", "0", 0},
				     {"X-Note", "caf\xc3\xa9\tok", 0}),
			      true, NULL),
			 ERR__COUNT);
	assert_int_equal(
		scan(FIELDS({"host", "x", 0}, {"transfer-encoding", "Chunked", 0}), true, NULL),
		ERR__COUNT);
	/* HTTP/1.0 needs no Host. */
	assert_int_equal(scan(FIELDS({"Accept", "*/*", 0}), false, NULL), ERR__COUNT);
	assert_int_equal(scan(FIELDS({"Host", "", 0}), true, NULL), ERR__COUNT);
}

static void test_framing(void **state)
{
	char detail[160];

	(void)state;
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"Content-Length", "0", 0},
				     {"content-length", "5", 0}),
			      true, detail),
			 ERR_BAD_FRAMING);
	assert_string_equal(detail, "more than one Content-Length header");
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"Content-Length", "5", 0},
				     {"Transfer-Encoding", "chunked", 0}),
			      true, detail),
			 ERR_BAD_FRAMING);
	assert_string_equal(detail, "both Content-Length and Transfer-Encoding");
	assert_int_equal(
		scan(FIELDS({"Host", "x", 0}, {"Transfer-Encoding", "chunked, identity", 0}), true,
		     NULL),
		ERR_BAD_FRAMING);
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"Transfer-Encoding", "chunked", 0},
				     {"Transfer-Encoding", "chunked", 0}),
			      true, NULL),
			 ERR_BAD_FRAMING);
	assert_int_equal(
		scan(FIELDS({"Host", "x", 0}, {"Content-Length", "12345678901234567890", 0}), true,
		     NULL),
		ERR_BAD_FRAMING);
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"Content-Length", "", 0}), true, NULL),
			 ERR_BAD_FRAMING);
	assert_int_equal(
		scan(FIELDS({"Host", "x", 0}, {"Content-Length", "1234567890123456789", 0}), true,
		     NULL),
		ERR__COUNT);
}

static void test_host(void **state)
{
	(void)state;
	assert_int_equal(scan(FIELDS({"Accept", "*/*", 0}), true, NULL), ERR_BAD_HOST);
	assert_int_equal(scan(FIELDS({"Host", "a", 0}, {"HOST", "b", 0}), false, NULL),
			 ERR_BAD_HOST);
}

static void test_header_bytes(void **state)
{
	char detail[160];

	(void)state;
	assert_int_equal(scan(FIELDS({"Host ", "x", 0}), true, detail), ERR_BAD_HEADER);
	assert_string_equal(detail, "whitespace between a header name and its colon");
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"X(y)", "1", 0}), true, NULL),
			 ERR_BAD_HEADER);
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"", "1", 0}), true, NULL), ERR_BAD_HEADER);
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"X-A", "a\0b", 3}), true, NULL),
			 ERR_BAD_HEADER);
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"X-A", "a\rb", 0}), true, detail),
			 ERR_BAD_HEADER);
	assert_string_equal(detail, "control byte 0x0d in header X-A");
	assert_int_equal(scan(FIELDS({"Host", "x", 0}, {"X-A", "a\x7f", 0}), true, NULL),
			 ERR_BAD_HEADER);
}

static void test_damaged_line(void **state)
{
	struct edge_scan s;

	(void)state;
	edge_scan_init(&s);
	edge_scan_field(&s, "Host", 4, "x", 1, false);
	edge_scan_field(&s, "X-A", 3, "a", 1, true);
	assert_int_equal(edge_scan_finish(&s, true), ERR_BAD_HEADER);
	assert_string_equal(s.detail, "a NUL or a folded line at header X-A");
}

static void test_first_failure_is_reported(void **state)
{
	char detail[160];

	(void)state;
	assert_int_equal(
		scan(FIELDS({"Host", "a", 0}, {"Host", "b", 0}, {"X ", "1", 0}), true, detail),
		ERR_BAD_HOST);
	assert_string_equal(detail, "more than one Host header");
}

static void test_uri(void **state)
{
	static char uri[EDGE_MAX_URI + 2];
	char *p = uri;

	(void)state;
	assert_int_equal(edge_check_uri("/healthz", 8), ERR__COUNT);
	assert_int_equal(edge_check_uri("/a?", 3), ERR__COUNT);
	p += snprintf(p, 16, "/h?");
	for (int i = 1; i < EDGE_MAX_PARAMS; i++)
		*p++ = '&';
	assert_int_equal(edge_check_uri(uri, strlen(uri)), ERR__COUNT);
	*p++ = '&';
	assert_int_equal(edge_check_uri(uri, strlen(uri)), ERR_TOO_MANY_PARAMETERS);
	memset(uri, 'a', sizeof uri - 1);
	uri[0] = '/';
	assert_int_equal(edge_check_uri(uri, EDGE_MAX_URI), ERR__COUNT);
	assert_int_equal(edge_check_uri(uri, EDGE_MAX_URI + 1), ERR_URI_TOO_LONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordinary_requests_pass),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_damaged_line),
		cmocka_unit_test(test_first_failure_is_reported),
		cmocka_unit_test(test_uri),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
