/* Unit tests for server/twin_doc.c: RFC 7396 merges (the RFC's own
 * examples), $metadata and $version, and every IoT Hub limit at and just
 * past its edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/twin_doc.h"

static json_t *J(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	return v;
}

static void assert_json(const json_t *got, const char *want)
{
	json_t *w = J(want);

	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);

		fail_msg("got %s, want %s", g, want);
	}
	json_decref(w);
}

/* RFC 7396 Appendix A, those whose target and patch are objects. */
static void test_rfc7396_examples(void **state)
{
	static const char *const cases[][3] = {
		{"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
		{"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
		{"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
		{"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
		 "{\"a\":{\"b\":\"d\"}}"},
		{"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
		{"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
		{"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
		{"{\"a\":1}", "{\"a\":{\"b\":null,\"c\":2}}", "{\"a\":{\"c\":2}}"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *t = J(cases[i][0]), *p = J(cases[i][1]);

		assert_int_equal(twin_merge_tags(t, p), TWIN_OK);
		assert_json(t, cases[i][2]);
		json_decref(t);
		json_decref(p);
	}
}

static const char *meta_at(const json_t *section, const char *a, const char *b)
{
	json_t *m = json_object_get(section, "$metadata");

	if (a != NULL)
		m = json_object_get(m, a);
	if (b != NULL)
		m = json_object_get(m, b);
	return json_string_value(json_object_get(m, "$lastUpdated"));
}

static void test_props_metadata(void **state)
{
	json_t *s = twin_props_new("T1", true), *p;

	(void)state;
	assert_int_equal(twin_props_version(s), 1);
	p = J("{\"app\":{\"name\":\"x\",\"v\":1},\"n\":5}");
	assert_int_equal(twin_merge_props(s, p, "T2", true, false), TWIN_OK);
	json_decref(p);
	assert_int_equal(twin_props_version(s), 2);
	assert_string_equal(meta_at(s, NULL, NULL), "T2");
	assert_string_equal(meta_at(s, "app", NULL), "T2");
	assert_string_equal(meta_at(s, "app", "name"), "T2");
	assert_string_equal(meta_at(s, "n", NULL), "T2");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(s, "$metadata"), "app"),
				 "$lastUpdatedVersion")),
			 2);

	/* A change under app restamps app and the root, not its sibling n. */
	p = J("{\"app\":{\"v\":null,\"w\":[1,2]}}");
	assert_int_equal(twin_merge_props(s, p, "T3", true, false), TWIN_OK);
	json_decref(p);
	assert_int_equal(twin_props_version(s), 3);
	assert_string_equal(meta_at(s, NULL, NULL), "T3");
	assert_string_equal(meta_at(s, "app", NULL), "T3");
	assert_string_equal(meta_at(s, "app", "name"), "T2");
	assert_string_equal(meta_at(s, "app", "w"), "T3");
	assert_null(meta_at(s, "app", "v"));
	assert_string_equal(meta_at(s, "n", NULL), "T2");
	assert_json(json_object_get(s, "app"), "{\"name\":\"x\",\"w\":[1,2]}");
	assert_int_equal(twin_size(s), strlen("{\"app\":{\"name\":\"x\",\"w\":[1,2]},\"n\":5}"));

	/* A replacement keeps only what it names, and still counts up. */
	p = J("{\"only\":true}");
	assert_int_equal(twin_merge_props(s, p, "T4", true, true), TWIN_OK);
	json_decref(p);
	assert_int_equal(twin_props_version(s), 4);
	assert_null(json_object_get(s, "app"));
	assert_null(meta_at(s, "app", NULL));
	assert_string_equal(meta_at(s, "only", NULL), "T4");
	json_decref(s);

	/* Reported metadata carries no $lastUpdatedVersion. */
	s = twin_props_new("T1", false);
	p = J("{\"a\":1}");
	assert_int_equal(twin_merge_props(s, p, "T2", false, false), TWIN_OK);
	assert_null(json_object_get(json_object_get(s, "$metadata"), "$lastUpdatedVersion"));
	json_decref(p);
	json_decref(s);
}

static enum twin_fault check(const char *text, struct twin_err *e)
{
	json_t *p = J(text);
	enum twin_fault f = twin_check_patch(p, "/properties/desired", e);

	json_decref(p);
	return f;
}

static void test_keys(void **state)
{
	static const char *const bad[] = {
		"{\"$a\":1}",	    "{\"a.b\":1}",	   "{\"a b\":1}",
		"{\"a\\u0001\":1}", "{\"a\\u007f\":1}",	   "{\"a\\u0085\":1}",
		"{\"\":1}",	    "{\"ok\":{\"$x\":1}}", "{\"ok\":[{\"a.b\":1}]}",
	};
	struct twin_err e;
	char *big = malloc(TWIN_KEY_MAX + 16);
	json_t *p;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(check(bad[i], &e), TWIN_BAD_KEY);
	assert_string_equal(e.where, "/properties/desired/ok/0/a.b");
	assert_int_equal(check("{\"a$\":1,\"é\":2,\"a-b_c\":{\"ok\":null}}", &e), TWIN_OK);

	memset(big, 'k', TWIN_KEY_MAX);
	big[TWIN_KEY_MAX] = '\0';
	p = json_pack("{s:i}", big, 1);
	assert_int_equal(twin_check_patch(p, "/tags", &e), TWIN_OK);
	json_decref(p);
	big[TWIN_KEY_MAX] = 'k';
	big[TWIN_KEY_MAX + 1] = '\0';
	p = json_pack("{s:i}", big, 1);
	assert_int_equal(twin_check_patch(p, "/tags", &e), TWIN_BAD_KEY);
	json_decref(p);
	free(big);
}

/* {"a":{"a":...}} with levels objects in all, the outermost included. */
static json_t *nest(int levels)
{
	json_t *v = json_integer(1);

	for (int i = 0; i < levels; i++)
		v = json_pack("{s:o}", "a", v);
	return v;
}

static void test_depth(void **state)
{
	struct twin_err e;
	json_t *p = nest(10);

	(void)state;
	assert_int_equal(twin_check_patch(p, "/tags", &e), TWIN_OK);
	json_decref(p);
	p = nest(11);
	assert_int_equal(twin_check_patch(p, "/tags", &e), TWIN_TOO_DEEP);
	json_decref(p);
	/* Arrays count as levels too. */
	assert_int_equal(check("{\"a\":[[[[[[[[[1]]]]]]]]]}", &e), TWIN_OK);
	assert_int_equal(check("{\"a\":[[[[[[[[[[1]]]]]]]]]]}", &e), TWIN_TOO_DEEP);
}

static void test_values(void **state)
{
	struct twin_err e;
	char *s = malloc(TWIN_STRING_MAX + 2);
	json_t *p;

	(void)state;
	memset(s, 'x', TWIN_STRING_MAX);
	s[TWIN_STRING_MAX] = '\0';
	p = json_pack("{s:s}", "s", s);
	assert_int_equal(twin_check_patch(p, "/tags", &e), TWIN_OK);
	json_decref(p);
	s[TWIN_STRING_MAX] = 'x';
	s[TWIN_STRING_MAX + 1] = '\0';
	p = json_pack("{s:[s]}", "s", s);
	assert_int_equal(twin_check_patch(p, "/tags", &e), TWIN_STRING_TOO_LONG);
	assert_string_equal(e.where, "/tags/s/0");
	json_decref(p);
	free(s);

	assert_int_equal(
		check("{\"n\":9007199254740992,\"m\":-9007199254740992,\"r\":1.5e300}", &e),
		TWIN_OK);
	assert_int_equal(check("{\"n\":9007199254740993}", &e), TWIN_NUMBER_RANGE);
	assert_int_equal(check("{\"n\":-9007199254740993}", &e), TWIN_NUMBER_RANGE);
	assert_int_equal(check("[1]", &e), TWIN_NOT_OBJECT);
	assert_int_equal(check("\"x\"", &e), TWIN_NOT_OBJECT);
}

static void test_sizes(void **state)
{
	struct twin_err e;
	json_t *tags = J("{}");
	/* {"s":"..."} is 8 bytes around the string. */
	char *s = malloc(TWIN_TAGS_MAX);
	json_t *d = twin_props_new("2026-12-01T00:00:00.0000000Z", true);

	(void)state;
	memset(s, 'x', TWIN_TAGS_MAX - 8);
	s[TWIN_TAGS_MAX - 8] = '\0';
	json_object_set_new(tags, "s", json_string(s));
	assert_int_equal(twin_size(tags), TWIN_TAGS_MAX);
	assert_int_equal(twin_check_size(tags, TWIN_TAGS_MAX, "/tags", &e), TWIN_OK);
	json_object_set_new(tags, "t", json_true());
	assert_int_equal(twin_check_size(tags, TWIN_TAGS_MAX, "/tags", &e), TWIN_TOO_LARGE);
	assert_string_equal(e.where, "/tags");

	/* $metadata and $version do not count. */
	assert_int_equal(twin_size(d), 2);
	json_decref(tags);
	json_decref(d);
	free(s);
}

static void test_device_ids(void **state)
{
	char id[TWIN_DEVICE_ID_MAX + 2];

	(void)state;
	assert_true(twin_device_id_ok("dev-1.a_b%*?!(),:=@$'"));
	assert_false(twin_device_id_ok(""));
	assert_false(twin_device_id_ok("a b"));
	assert_false(twin_device_id_ok("a/b"));
	assert_false(twin_device_id_ok("é"));
	memset(id, 'a', TWIN_DEVICE_ID_MAX);
	id[TWIN_DEVICE_ID_MAX] = '\0';
	assert_true(twin_device_id_ok(id));
	id[TWIN_DEVICE_ID_MAX] = 'a';
	id[TWIN_DEVICE_ID_MAX + 1] = '\0';
	assert_false(twin_device_id_ok(id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7396_examples),
		cmocka_unit_test(test_props_metadata),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_device_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
