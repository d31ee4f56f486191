/* Unit tests for common/: encodings, bounded buffers, JSON limits and
 * duration parsing, each with the inputs that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/ct.h"
#include "common/duration.h"
#include "common/hex.h"
#include "common/jsonb.h"
#include "common/log.h"

static void test_b64_rfc4648_vectors(void **state)
{
	static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	(void)state;
	for (size_t i = 0; i < 7; i++) {
		char *e = b64_encode((const uint8_t *)plain[i], strlen(plain[i]), 0);
		assert_string_equal(e, std[i]);
		free(e);
		e = b64_encode((const uint8_t *)plain[i], strlen(plain[i]), 1);
		assert_string_equal(e, url[i]);
		free(e);
		for (int u = 0; u < 2; u++) {
			size_t n = 99;
			const char *in = u ? url[i] : std[i];
			uint8_t *d = b64_decode(in, strlen(in), u, &n);
			assert_non_null(d);
			assert_int_equal(n, strlen(plain[i]));
			assert_memory_equal(d, plain[i], n);
			free(d);
		}
	}
}

static void test_b64_refuses_noncanonical(void **state)
{
	static const char *bad_std[] = {
		"Zg=", "Zg", "Zh==", "Z===", "Zm9v\n", "Zm-v", "====", "Zg==Zg=="};
	static const char *bad_url[] = {"Zh", "Z", "Zg==", "Zm+v", "Zm9v "};
	size_t n;
	(void)state;
	for (size_t i = 0; i < sizeof bad_std / sizeof *bad_std; i++)
		assert_null(b64_decode(bad_std[i], strlen(bad_std[i]), 0, &n));
	for (size_t i = 0; i < sizeof bad_url / sizeof *bad_url; i++)
		assert_null(b64_decode(bad_url[i], strlen(bad_url[i]), 1, &n));
}

/* Every length and byte value round trips; one character of each byte
 * value in every position of a group is accepted exactly when it is in
 * the alphabet. */
static void test_b64_every_byte(void **state)
{
	static const char alpha[2][65] = {
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"};
	uint8_t in[300], out[300];
	size_t n;
	(void)state;
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (int u = 0; u < 2; u++) {
		for (size_t len = 0; len <= sizeof in; len += len < 10 ? 1 : 37) {
			char *e = b64_encode(in, len, u);
			assert_int_equal(b64_decode_into(e, strlen(e), u, out, &n), 0);
			assert_int_equal(n, len);
			assert_memory_equal(out, in, len);
			free(e);
		}
		for (int c = 0; c < 256; c++)
			for (int at = 0; at < 4; at++) {
				char text[9] = "QUJDQUJD";
				text[at] = (char)c;
				int ok = c != 0 && memchr(alpha[u], c, 64) != NULL;
				assert_int_equal(b64_decode_into(text, 8, u, out, &n), ok ? 0 : -1);
			}
	}
}

/* One log line, written to a pipe in place of stderr. */
static char *log_capture(void (*emit)(void))
{
	static char line[4096];
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	emit();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], line, sizeof line - 1);
	close(fds[0]);
	assert_true(n > 0);
	line[n] = '\0';
	return line;
}

static void emit_plain(void)
{
	log_set_request_id("0123abcd");
	log_kv(LOG_INFO, "ACME certificate issued", "order", "42", "serial", "ab01", "none", NULL,
	       NULL);
	log_set_request_id(NULL);
}

static void emit_escaped(void)
{
	log_kv(LOG_WARN, "a \"quoted\" message", "path", "/a\\b\n\xc3\xa9", "bad", "\xff", NULL);
}

static void emit_twice(void)
{
	log_kv(LOG_ERROR, "twice", "k", "1", "k", "2", NULL);
}

/* The direct writer and jansson's dump give the same line: keys in order,
 * compact, one line; text that needs escaping (or is not UTF-8), and a key
 * given twice, still go through jansson. */
static void test_log_lines(void **state)
{
	json_error_t jerr;
	(void)state;
	struct {
		void (*emit)(void);
		const char *want_tail;
	} cases[] = {
		{emit_plain,
		 "\"level\":\"info\",\"msg\":\"ACME certificate issued\",\"request_id\":"
		 "\"0123abcd\",\"order\":\"42\",\"serial\":\"ab01\",\"none\":null}\n"},
		{emit_escaped, "\"level\":\"warn\",\"msg\":\"a \\\"quoted\\\" message\",\"path\":"
			       "\"/a\\\\b\\n\u00e9\"}\n"},
		{emit_twice, "\"level\":\"error\",\"msg\":\"twice\",\"k\":\"2\"}\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *line = log_capture(cases[i].emit);
		json_t *o = json_loads(line, 0, &jerr);
		assert_non_null(o);
		char *again = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_int_equal(strncmp(line, again, strlen(again)), 0);
		assert_int_equal(strncmp(line, "{\"time\":\"", 9), 0);
		assert_string_equal(strchr(line, ',') + 1, cases[i].want_tail);
		free(again);
		json_decref(o);
	}
}

/* A plain line of every length around the direct writer's buffer
 * (2,048 bytes with its '}' and newline): written whole, as jansson writes
 * it, and nothing past the buffer (ASan: make SAN=address,undefined). */
static size_t long_len;

static void emit_long(void)
{
	static char v[2200];
	memset(v, 'x', long_len);
	v[long_len] = '\0';
	log_kv(LOG_INFO, "m", "k", v, NULL);
}

static void test_log_long_lines(void **state)
{
	json_error_t jerr;
	(void)state;
	/* time (24 characters) 34, level 15, msg 10, k 7: 66 + the value */
	for (long_len = 1960; long_len < 2000; long_len++) {
		char *line = log_capture(emit_long);
		json_t *o = json_loads(line, 0, &jerr);
		assert_non_null(o);
		assert_int_equal(strlen(json_string_value(json_object_get(o, "k"))), long_len);
		assert_int_equal(strlen(line), 66 + long_len + 2);
		json_decref(o);
	}
}

static void test_hex_roundtrip_and_errors(void **state)
{
	uint8_t in[] = {0x00, 0x7f, 0x80, 0xff}, out[4];
	char text[9];
	(void)state;
	hex_encode(in, 4, text);
	assert_string_equal(text, "007f80ff");
	assert_int_equal(hex_decode("007F80fF", out, sizeof out), 4);
	assert_memory_equal(in, out, 4);
	assert_int_equal(hex_decode("abc", out, sizeof out), -1);
	assert_int_equal(hex_decode("zz", out, sizeof out), -1);
	assert_int_equal(hex_decode("0011223344", out, sizeof out), -1);
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(ct_equal("abc", "abc", 3));
	assert_false(ct_equal("abc", "abd", 3));
	assert_true(ct_equal_str("secret", "secret"));
	assert_false(ct_equal_str("secret", "secret2"));
	assert_false(ct_equal_str("", "x"));
}

static void test_buf_enforces_max(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_add(&b, "12345", 5), 0);
	assert_int_equal(buf_add(&b, "12345", 5), 0);
	assert_int_equal(buf_add(&b, "1", 1), -1);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.data, "1234512345");
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.max, 10);
}

static void test_jsonb_depth(void **state)
{
	json_t *j;
	char deep[200];
	(void)state;
	assert_int_equal(jsonb_depth("{\"a\":[1,{\"b\":2}]}", 17, 32), 3);
	assert_int_equal(jsonb_depth("\"[[[[\"", 6, 32), 0);	 /* brackets in strings */
	assert_int_equal(jsonb_depth("[\"\\\"[[\"]", 8, 32), 1); /* escaped quote */
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(jsonb_parse(deep, 200, 32, &j, NULL), JSONB_TOO_DEEP);
	assert_null(j);
	assert_int_equal(jsonb_parse(deep + 68, 64, 32, &j, NULL), JSONB_OK);
	json_decref(j);
	assert_int_equal(jsonb_parse("{\"a\":", 5, 32, &j, NULL), JSONB_MALFORMED);
	assert_int_equal(jsonb_parse("{\"a\":1,\"a\":2}", 13, 32, &j, NULL), JSONB_MALFORMED);
	assert_int_equal(jsonb_parse("{\"a\":1} x", 9, 32, &j, NULL), JSONB_MALFORMED);
}

/* jsonb_flat takes plain flat objects only, and agrees with jansson on them;
 * everything else is left to jansson (NULL), bad input included. */
static void test_jsonb_flat(void **state)
{
	static const struct {
		const char *text;
		bool flat;
	} cases[] = {
		{"{}", true},
		{" {\"protected\":\"eyJh\", \"payload\" : \"\",\n\"signature\":\"c2ln\"}\r\n",
		 true},
		{"{\"\":\"x\"}", true},
		{"{\"a\":\"b\\\"c\"}", false},	 /* an escape */
		{"{\"a\":\"\xc3\xa9\"}", false}, /* not ASCII */
		{"{\"a\":1}", false},
		{"{\"a\":\"b\",\"c\":{}}", false},
		{"[\"a\"]", false},
		{"{\"a\":\"b\",\"a\":\"c\"}", false}, /* a duplicate */
		{"{\"a\":\"b\"} x", false},
		{"{\"a\":\"b\",}", false},
		{"{\"a\":\"b\"", false},
		{"{\"a\" \"b\"}", false},
		{"{\"a\":\"b", false},
		{"", false},
		{"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":\"b\"}",
		 false},
	};
	json_t *j;
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *t = cases[i].text;
		json_t *f = jsonb_flat(t, strlen(t)),
		       *ref = json_loads(t, JSON_REJECT_DUPLICATES, NULL);
		if (cases[i].flat) {
			assert_non_null(f);
			assert_true(json_equal(f, ref));
		} else {
			assert_null(f);
		}
		json_decref(f);
		json_decref(ref);
	}
	assert_int_equal(jsonb_parse("{\"a\":\"b\",\"a\":\"c\"}", 17, 32, &j, NULL),
			 JSONB_MALFORMED);
	assert_int_equal(jsonb_parse("{\"a\":\"b\"} x", 11, 32, &j, NULL), JSONB_MALFORMED);
	assert_int_equal(jsonb_parse("{\"a\":\"b\"}", 9, 32, &j, NULL), JSONB_OK);
	assert_string_equal(json_string_value(json_object_get(j, "a")), "b");
	json_decref(j);
}

static void test_duration_parse(void **state)
{
	(void)state;
	assert_int_equal(duration_parse("90"), 90);
	assert_int_equal(duration_parse("90s"), 90);
	assert_int_equal(duration_parse("15m"), 900);
	assert_int_equal(duration_parse("1h"), 3600);
	assert_int_equal(duration_parse("7d"), 604800);
	static const char *bad[] = {"",	     "h",   "-1h", "+1h", " 1h",
				    "1h ",   "1hh", "1w",  "0",	  "99999999999999999999",
				    "4000d", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(duration_parse(bad[i]), -1);
	assert_int_equal(duration_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_rfc4648_vectors),
		cmocka_unit_test(test_b64_refuses_noncanonical),
		cmocka_unit_test(test_b64_every_byte),
		cmocka_unit_test(test_log_lines),
		cmocka_unit_test(test_log_long_lines),
		cmocka_unit_test(test_hex_roundtrip_and_errors),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_buf_enforces_max),
		cmocka_unit_test(test_jsonb_depth),
		cmocka_unit_test(test_jsonb_flat),
		cmocka_unit_test(test_duration_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
