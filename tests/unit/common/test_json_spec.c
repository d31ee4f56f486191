/* Unit tests for common/json_spec: every parser with the inputs it must
 * refuse, JSON pointers in errors, cleanup after a failure half way, and a
 * torture run that fails each allocation in turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json_spec.h"

/* json_spec's allocations come here (jansson's own, in its shared library,
 * do not). */
#include "tests/unit/fail_alloc.h"

/* Everything one body can hold, with its destinations. */
struct dests {
	const char *subject;
	long long ttl;
	bool flag;
	json_t *meta;
	const char *meta_name;
	const char **scopes;
	size_t nscopes;
	uint8_t *key, *nonce;
	size_t key_len, nonce_len;
	time_t not_after;
};

static const char full_body[] =
	"{\"subject\":\"ci-bot\",\"ttl\":3600,\"flag\":true,\"meta\":{\"name\":\"n\"},"
	"\"scope\":[\"a\",\"b\",\"c\"],\"key\":\"AQID\",\"nonce\":\"BAUG\","
	"\"not_after\":\"2026-12-01T15:00:00.1234567Z\"}";

static void spec_fill(struct json_spec *spec, struct json_spec *meta, struct dests *d)
{
	meta[0] = json_spec_string("name", &d->meta_name, 8, JSON_SPEC_NONEMPTY);
	meta[1] = json_spec_end();
	spec[0] = json_spec_string("subject", &d->subject, 16,
				   JSON_SPEC_NO_CTRL | JSON_SPEC_NONEMPTY);
	spec[1] = json_spec_int("ttl", &d->ttl, 1, 86400, 0);
	spec[2] = json_spec_bool("flag", &d->flag, JSON_SPEC_OPTIONAL);
	spec[3] = json_spec_object("meta", &d->meta, 0);
	spec[4] = json_spec_fields("meta", meta, 0);
	spec[5] =
		json_spec_string_array("scope", &d->scopes, &d->nscopes, 3, 8, JSON_SPEC_NONEMPTY);
	spec[6] = json_spec_base64("key", &d->key, &d->key_len, 8, 0);
	spec[7] = json_spec_base64url("nonce", &d->nonce, &d->nonce_len, 8, 0);
	spec[8] = json_spec_time("not_after", &d->not_after, JSON_SPEC_OPTIONAL);
	spec[9] = json_spec_end();
}

static json_t *load(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_parses_every_kind(void **state)
{
	struct json_spec spec[10], meta[2];
	struct json_spec_error err;
	struct dests d;
	json_t *j = load(full_body);
	(void)state;
	memset(&d, 0, sizeof d);
	spec_fill(spec, meta, &d);
	assert_int_equal(json_spec_parse(j, spec, &err), JSON_SPEC_OK);
	assert_string_equal(d.subject, "ci-bot");
	assert_int_equal(d.ttl, 3600);
	assert_true(d.flag);
	assert_true(json_is_object(d.meta));
	assert_string_equal(d.meta_name, "n");
	assert_int_equal(d.nscopes, 3);
	assert_string_equal(d.scopes[2], "c");
	assert_null(d.scopes[3]);
	assert_int_equal(d.key_len, 3);
	assert_memory_equal(d.key, "\x01\x02\x03", 3);
	assert_int_equal(d.nonce_len, 3);
	assert_int_equal(d.not_after, 1796137200);
	json_spec_free(spec);
	assert_null(d.scopes);
	assert_null(d.key);
	json_spec_free(spec); /* idempotent */
	json_decref(j);
}

/* Replaces one member of the full body and expects a refusal naming ptr. */
static void expect_refusal(const char *member, const char *value, const char *ptr)
{
	struct json_spec spec[10], meta[2];
	struct json_spec_error err;
	struct dests d;
	json_t *j = load(full_body);

	memset(&d, 0, sizeof d);
	spec_fill(spec, meta, &d);
	if (value == NULL) {
		json_object_del(j, member);
	} else {
		json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		assert_non_null(v);
		json_object_set_new(j, member, v);
	}
	assert_int_equal(json_spec_parse(j, spec, &err), JSON_SPEC_INVALID);
	assert_string_equal(err.pointer, ptr);
	assert_true(err.reason[0] != '\0');
	/* A failure half way leaves nothing allocated behind. */
	assert_null(d.scopes);
	assert_null(d.key);
	assert_null(d.nonce);
	json_decref(j);
}

static void test_refusals_name_the_field(void **state)
{
	(void)state;
	expect_refusal("subject", NULL, "/subject");
	expect_refusal("subject", "null", "/subject");
	expect_refusal("subject", "7", "/subject");
	expect_refusal("subject", "\"\"", "/subject");
	expect_refusal("subject", "\"seventeen-bytes!!\"", "/subject");
	expect_refusal("subject", "\"a\\nb\"", "/subject");
	expect_refusal("subject", "\"a\\u007fb\"", "/subject");
	expect_refusal("subject", "\"a\\u0000b\"", "/subject");
	expect_refusal("ttl", "0", "/ttl");
	expect_refusal("ttl", "86401", "/ttl");
	expect_refusal("ttl", "\"1h\"", "/ttl");
	expect_refusal("ttl", "1.5", "/ttl");
	expect_refusal("flag", "\"true\"", "/flag");
	expect_refusal("meta", "[]", "/meta");
	expect_refusal("meta", "{\"name\":\"\"}", "/meta/name");
	expect_refusal("meta", "{}", "/meta/name");
	expect_refusal("scope", "[]", "/scope");
	expect_refusal("scope", "\"a b\"", "/scope");
	expect_refusal("scope", "[\"a\",\"b\",3]", "/scope/2");
	expect_refusal("scope", "[\"a\",\"b\",\"c\",\"d\"]", "/scope");
	expect_refusal("scope", "[\"a\",\"toolongvalue\"]", "/scope/1");
	expect_refusal("key", "\"AQI\"", "/key");	   /* padding missing */
	expect_refusal("key", "\"AQ-D\"", "/key");	   /* base64url alphabet */
	expect_refusal("key", "\"AQIDBAUGBwgJ\"", "/key"); /* 9 bytes > 8 */
	expect_refusal("nonce", "\"BAU=\"", "/nonce");	   /* padded */
	expect_refusal("nonce", "\"BA+G\"", "/nonce");
	expect_refusal("not_after", "\"2026-12-01\"", "/not_after");
	expect_refusal("not_after", "1796137200", "/not_after");
}

static void test_pointer_escapes_and_root(void **state)
{
	struct json_spec_error err;
	const char *s;
	struct json_spec spec[] = {json_spec_string("a/b~c", &s, 8, 0), json_spec_end()};
	json_t *j = load("{\"a/b~c\":1}"), *arr = load("[1]");
	(void)state;
	assert_int_equal(json_spec_parse(j, spec, &err), JSON_SPEC_INVALID);
	assert_string_equal(err.pointer, "/a~1b~0c");
	assert_int_equal(json_spec_parse(arr, spec, &err), JSON_SPEC_INVALID);
	assert_string_equal(err.pointer, "");
	assert_int_equal(json_spec_parse(NULL, spec, &err), JSON_SPEC_INVALID);
	json_decref(j);
	json_decref(arr);
}

static void test_optional_keeps_default(void **state)
{
	struct json_spec_error err;
	long long ttl = 3600;
	bool seen_ttl = true;
	struct json_spec spec[] = {json_spec_int("ttl", &ttl, 1, 10, JSON_SPEC_OPTIONAL),
				   json_spec_end()};
	json_t *j = load("{\"ttl\":null}"), *e = load("{}"), *v = load("{\"ttl\":7}");
	(void)state;
	spec[0].present = &seen_ttl;
	assert_int_equal(json_spec_parse(j, spec, &err), JSON_SPEC_OK);
	assert_int_equal(ttl, 3600);
	assert_false(seen_ttl);
	assert_int_equal(json_spec_parse(e, spec, &err), JSON_SPEC_OK);
	assert_int_equal(ttl, 3600);
	assert_int_equal(json_spec_parse(v, spec, &err), JSON_SPEC_OK);
	assert_int_equal(ttl, 7);
	assert_true(seen_ttl);
	json_decref(j);
	json_decref(e);
	json_decref(v);
}

static void test_rfc3339(void **state)
{
	static const struct {
		const char *s;
		time_t t;
	} good[] = {
		{"1985-04-12T23:20:50.52Z", 482196050},
		{"1996-12-19T16:39:57-08:00", 851042397},
		{"1990-12-31T23:59:60Z", 662687999},
		{"1937-01-01T12:00:27.87+00:20", -1041337173},
		{"2024-02-29t00:00:00z", 1709164800},
	};
	static const char *bad[] = {
		"2026-02-29T00:00:00Z",	 "2026-13-01T00:00:00Z",
		"2026-12-01 15:00:00Z",	 "2026-12-01T15:00:00",
		"2026-12-01T15:00:00.Z", "2026-12-01T15:00:00Zjunk",
		"2026-12-01T24:00:00Z",	 "2026-12-01T15:00:00+1:00",
		"2026-12-00T15:00:00Z",	 "",
		"+026-12-01T15:00:00Z",
	};
	time_t t;
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		assert_int_equal(json_spec_parse_time(good[i].s, strlen(good[i].s), &t), 0);
		assert_int_equal(t, good[i].t);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(json_spec_parse_time(bad[i], strlen(bad[i]), &t), -1);
}

/* Fails each allocation in turn: every run is NOMEM with nothing left
 * allocated, until the parse needs no more allocations than it gets. */
static void test_torture(void **state)
{
	json_t *j = load(full_body);
	long k;
	(void)state;
	for (k = 1;; k++) {
		struct json_spec spec[10], meta[2];
		struct json_spec_error err;
		struct dests d;
		enum json_spec_rc rc;

		memset(&d, 0, sizeof d);
		spec_fill(spec, meta, &d);
		seen = 0;
		fail_at = k;
		rc = json_spec_parse(j, spec, &err);
		fail_at = -1;
		if (rc == JSON_SPEC_OK) {
			assert_true(seen < k);
			json_spec_free(spec);
			break;
		}
		assert_int_equal(rc, JSON_SPEC_NOMEM);
		assert_null(d.scopes);
		assert_null(d.key);
		assert_null(d.nonce);
	}
	assert_int_equal(k, 4); /* the array, two decoded buffers, then success */
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_every_kind),
		cmocka_unit_test(test_refusals_name_the_field),
		cmocka_unit_test(test_pointer_escapes_and_root),
		cmocka_unit_test(test_optional_keeps_default),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_torture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
