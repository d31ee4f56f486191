/* Unit tests for server/twinq_*.c: each construct of the twin query language,
 * precedence, the SQL and parameters produced, refusals with their
 * position, limits, and injection attempts that must end up as parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/twinq.h"

/* Compiles text (whole query, or a condition when cond) and checks it worked. */
static void ok(const char *text, struct twinq *q, int cond)
{
	struct twinq_error e;
	int rc = cond ? twinq_compile_condition(text, q, &e) : twinq_compile(text, q, &e);

	if (rc != 0)
		fail_msg("%s: refused at %zu: %s", text, e.pos, e.msg);
}

static void where_is(const char *cond, const char *sql, size_t nparams, ...)
{
	struct twinq q;
	va_list ap;

	ok(cond, &q, 1);
	if (strcmp(q.where_sql, sql) != 0)
		fail_msg("%s:\n got  %s\n want %s", cond, q.where_sql, sql);
	assert_int_equal(q.nparams, nparams);
	va_start(ap, nparams);
	for (size_t i = 0; i < nparams; i++)
		assert_string_equal(q.params[i], va_arg(ap, const char *));
	va_end(ap);
	twinq_free(&q);
}

static void refused(const char *text, int cond, size_t pos, const char *msg_part)
{
	struct twinq q;
	struct twinq_error e;
	int rc = cond ? twinq_compile_condition(text, &q, &e) : twinq_compile(text, &q, &e);

	if (rc == 0)
		fail_msg("%s: accepted as %s", text, q.where_sql);
	if (e.pos != pos || strstr(e.msg, msg_part) == NULL)
		fail_msg("%s: refused at %zu (%s), want %zu (%s)", text, e.pos, e.msg, pos,
			 msg_part);
	assert_null(q.where_sql);
	assert_int_equal(q.nparams, 0);
}

/* Every byte of the SQL is fixed text: no quote but the fixed type names. */
static void sql_is_fixed(const struct twinq *q)
{
	static const char *const allowed[] = {"'number'", "'string'", "'boolean'", "'null'",
					      "'object'", "'array'",  "'{}'"};
	const char *parts[] = {q->where_sql, q->select_sql, q->group_sql, q->order_sql};

	for (size_t k = 0; k < 4; k++) {
		const char *s = parts[k];

		for (; s && *s; s++) {
			size_t i;

			if (*s == ';' || (*s == '-' && s[1] == '-') || (*s == '/' && s[1] == '*'))
				fail_msg("unexpected %c in %s", *s, parts[k]);
			if (*s != '\'')
				continue;
			for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
				if (strncmp(s, allowed[i], strlen(allowed[i])) == 0)
					break;
			if (i == sizeof allowed / sizeof allowed[0])
				fail_msg("a quote not ours in %s", parts[k]);
			s += strlen(allowed[i]) - 1;
		}
	}
}

static void test_equality_uses_containment(void **state)
{
	(void)state;
	where_is("tags.location.region = 'US'",
		 "((tags @> $1::jsonb AND (tags #> ARRAY[$2::text,$3::text]) = $4::jsonb))", 4,
		 "{\"location\":{\"region\":\"US\"}}", "location", "region", "\"US\"");
	where_is("properties.reported.temp = 21.5",
		 "((reported @> $1::jsonb AND (reported #> ARRAY[$2::text]) = $3::jsonb))", 3,
		 "{\"temp\":21.5}", "temp", "21.5");
	where_is("'US' = tags.r", "((tags @> $1::jsonb AND (tags #> ARRAY[$2::text]) = $3::jsonb))",
		 3, "{\"r\":\"US\"}", "r", "\"US\"");
	where_is("deviceId = 'd1'", "((device_id = $1::text))", 1, "d1");
}

static void test_comparisons(void **state)
{
	(void)state;
	where_is("properties.desired.n != 3",
		 "(COALESCE((desired #> ARRAY[$1::text]) <> $2::jsonb, false))", 2, "n", "3");
	where_is("status <> 'disabled'", "(COALESCE(to_jsonb(status) <> $1::jsonb, false))", 1,
		 "\"disabled\"");
	where_is(
		"properties.reported.t >= -1.5e3",
		"(COALESCE(jsonb_typeof((reported #> ARRAY[$1::text])) IN ('number', 'string') AND "
		"jsonb_typeof((reported #> ARRAY[$2::text])) = jsonb_typeof($3::jsonb) AND "
		"(reported #> ARRAY[$4::text]) >= $5::jsonb, false))",
		5, "t", "t", "-1.5e3", "t", "-1.5e3");
	for (const char *const *op = (const char *const[]){"<", ">", "<=", ">=", NULL}; *op; op++) {
		char text[64];
		struct twinq q;

		snprintf(text, sizeof text, "version %s 3", *op);
		ok(text, &q, 1);
		assert_non_null(strstr(q.where_sql, *op));
		twinq_free(&q);
	}
}

static void test_in_nin(void **state)
{
	(void)state;
	where_is("tags.site IN ['a', 2, true, null]",
		 "(COALESCE((tags #> ARRAY[$1::text]) = ANY(ARRAY[$2::jsonb, $3::jsonb, $4::jsonb, "
		 "$5::jsonb]), false))",
		 5, "site", "\"a\"", "2", "true", "null");
	where_is("tags.site NIN ['a']",
		 "(COALESCE((tags #> ARRAY[$1::text]) <> ALL(ARRAY[$2::jsonb]), false))", 2, "site",
		 "\"a\"");
	refused("tags.site IN []", 1, 14, "expected a literal");
	refused("tags.site IN ['a' 'b']", 1, 18, "',' or ']'");
}

static void test_precedence(void **state)
{
	struct twinq q;

	(void)state;
	/* AND binds tighter than OR; NOT tighter than AND. */
	ok("version = 1 OR version = 2 AND NOT version = 3", &q, 1);
	assert_string_equal(q.where_sql, "(COALESCE(to_jsonb(version) = $1::jsonb, false) OR "
					 "COALESCE(to_jsonb(version) = $2::jsonb, false) AND "
					 "(NOT COALESCE(to_jsonb(version) = $3::jsonb, false)))");
	twinq_free(&q);
	ok("(version = 1 OR version = 2) AND version = 3", &q, 1);
	assert_string_equal(q.where_sql, "(((COALESCE(to_jsonb(version) = $1::jsonb, false) OR "
					 "COALESCE(to_jsonb(version) = $2::jsonb, false))) AND "
					 "COALESCE(to_jsonb(version) = $3::jsonb, false))");
	twinq_free(&q);
	ok("not not version = 1", &q, 1);
	assert_string_equal(q.where_sql,
			    "((NOT (NOT COALESCE(to_jsonb(version) = $1::jsonb, false))))");
	twinq_free(&q);
}

static void test_functions(void **state)
{
	(void)state;
	where_is("IS_DEFINED(tags.a)", "(((tags #> ARRAY[$1::text]) IS NOT NULL))", 1, "a");
	where_is("is_number(properties.reported.t)",
		 "(COALESCE(jsonb_typeof((reported #> ARRAY[$1::text])) IN ('number'), false))", 1,
		 "t");
	where_is("IS_PRIMITIVE(tags)",
		 "(COALESCE(jsonb_typeof(tags) IN ('string', 'number', 'boolean', 'null'), false))",
		 0);
	where_is("STARTS_WITH(deviceId, 'pump-')",
		 "(COALESCE(jsonb_typeof(to_jsonb(device_id)) = 'string' AND "
		 "starts_with(to_jsonb(device_id) #>> '{}', $1::text), false))",
		 1, "pump-");
	where_is("ENDS_WITH(tags.n, 'x')",
		 "(COALESCE(jsonb_typeof((tags #> ARRAY[$2::text])) = 'string' AND "
		 "right((tags #> ARRAY[$3::text]) #>> '{}', char_length($1::text)) = $1::text, "
		 "false))",
		 3, "x", "n", "n");
	static const char *const names[] = {"IS_NULL", "IS_BOOL", "IS_STRING", "IS_OBJECT",
					    "IS_ARRAY"};
	for (size_t i = 0; i < 5; i++) {
		char text[64];
		struct twinq q;

		snprintf(text, sizeof text, "%s(properties.desired.x)", names[i]);
		ok(text, &q, 1);
		twinq_free(&q);
	}
	refused("STARTS_WITH(tags.a, 1)", 1, 20, "expected a string");
	refused("IS_DEFINED('a')", 1, 11, "expected deviceId");
}

static void test_literals(void **state)
{
	(void)state;
	where_is("tags.s = 'it\\'s \\\"q\\\" \\\\ \\n \\u00e9 \\ud83d\\ude00'",
		 "((tags @> $1::jsonb AND (tags #> ARRAY[$2::text]) = $3::jsonb))", 3,
		 "{\"s\":\"it's \\\"q\\\" \\\\ \\n \xc3\xa9 \xf0\x9f\x98\x80\"}", "s",
		 "\"it's \\\"q\\\" \\\\ \\n \xc3\xa9 \xf0\x9f\x98\x80\"");
	where_is("tags.\xc3\xbcn\xc3\xaf = '\xc3\xa9'",
		 "((tags @> $1::jsonb AND (tags #> ARRAY[$2::text]) = $3::jsonb))", 3,
		 "{\"\xc3\xbcn\xc3\xaf\":\"\xc3\xa9\"}", "\xc3\xbcn\xc3\xaf", "\"\xc3\xa9\"");
	where_is("tags.s = \"dq\"",
		 "((tags @> $1::jsonb AND (tags #> ARRAY[$2::text]) = $3::jsonb))", 3,
		 "{\"s\":\"dq\"}", "s", "\"dq\"");
	where_is("tags.b = false",
		 "((tags @> $1::jsonb AND (tags #> ARRAY[$2::text]) = $3::jsonb))", 3,
		 "{\"b\":false}", "b", "false");
	refused("tags.s = 'open", 1, 9, "unterminated");
	refused("tags.s = 'a\\x'", 1, 11, "bad escape");
	refused("tags.s = '\\u0000'", 1, 10, "bad escape");
	refused("tags.s = '\\udc00'", 1, 10, "bad escape");
	refused("tags.s = '\\ud800x'", 1, 10, "bad escape");
	refused("tags.n = 01", 1, 9, "malformed number");
	refused("tags.n = 1.", 1, 9, "malformed number");
	refused("tags.n = 1e99999", 1, 9, "malformed number");
	refused("tags.n = 1x", 1, 9, "malformed number");
	refused("tags.s = 'a\tb'", 1, 11, "control character");
}

static void test_select_forms(void **state)
{
	struct twinq q;

	(void)state;
	ok("SELECT * FROM devices", &q, 0);
	assert_int_equal(q.kind, TWINQ_TWINS);
	assert_string_equal(q.where_sql, "TRUE");
	assert_int_equal(q.top, -1);
	twinq_free(&q);

	ok("select top 5 * from DEVICES where tags.a = 1", &q, 0);
	assert_int_equal(q.top, 5);
	twinq_free(&q);

	ok("SELECT deviceId, tags.loc.city, properties.desired.a AS want FROM devices", &q, 0);
	assert_int_equal(q.kind, TWINQ_PROJECT);
	assert_int_equal(q.ncols, 3);
	assert_string_equal(q.cols[0].name, "deviceId");
	assert_string_equal(q.cols[1].name, "city");
	assert_string_equal(q.cols[2].name, "want");
	assert_string_equal(q.select_sql, ", (to_jsonb(device_id))::text, ((tags #> "
					  "ARRAY[$1::text,$2::text]))::text, ((desired #> "
					  "ARRAY[$3::text]))::text");
	sql_is_fixed(&q);
	twinq_free(&q);

	ok("SELECT COUNT() AS n FROM devices WHERE tags.a = 1", &q, 0);
	assert_int_equal(q.kind, TWINQ_AGGREGATE);
	assert_string_equal(q.select_sql, "count(*)");
	assert_null(q.group_sql);
	assert_true(q.cols[0].is_count);
	twinq_free(&q);

	ok("SELECT properties.reported.fw AS fw, tags.site, COUNT() AS n FROM devices "
	   "GROUP BY tags.site, properties.reported.fw",
	   &q, 0);
	assert_int_equal(q.kind, TWINQ_AGGREGATE);
	assert_string_equal(q.group_sql, "2, 1");
	assert_int_equal(q.ncols, 3);
	twinq_free(&q);
}

static void test_select_refusals(void **state)
{
	(void)state;
	refused("SELECT * FROM modules", 0, 14, "expected devices");
	refused("SELECT * devices", 0, 9, "expected FROM");
	refused("SELECT deviceId, COUNT() FROM devices", 0, 7, "GROUP BY path");
	refused("SELECT tags.a, COUNT() FROM devices GROUP BY tags.b", 0, 7, "GROUP BY path");
	refused("SELECT COUNT() FROM devices GROUP BY tags.b", 0, 43, "must be selected");
	refused("SELECT * FROM devices GROUP BY tags.b", 0, 37, "not *");
	refused("SELECT tags.a, tags.b.a FROM devices", 0, 15, "two columns");
	refused("SELECT * FROM devices WHERE", 0, 27, "expected deviceId");
	refused("SELECT * FROM devices WHERE tags.a = 1 LIMIT 3", 0, 39, "unexpected text");
	refused("SELECT TOP -1 * FROM devices", 0, 11, "TOP takes");
	refused("SELECT * FROM devices WHERE deviceId.x = 1", 0, 36, "no members");
	refused("SELECT * FROM devices WHERE properties.other.x = 1", 0, 39, "desired or reported");
	refused("SELECT * FROM devices WHERE tags.a", 0, 34, "expected a comparison");
	refused("SELECT * FROM devices WHERE tags.a ! 1", 0, 35, "unexpected '!'");
	refused("SELECT * FROM devices WHERE (tags.a = 1", 0, 39, "expected ')'");
	refused("", 0, 0, "expected SELECT");
	refused("tags.a = 1 tags.b = 2", 1, 11, "unexpected text");
}

/* ORDER BY one path, ASC or DESC, its segments parameters numbered after
 * the WHERE's; refused beside GROUP BY or COUNT(), with a second path, an
 * unknown direction. */
static void test_order_by(void **state)
{
	struct twinq q;

	(void)state;
	ok("SELECT * FROM devices ORDER BY tags.n DESC", &q, 0);
	assert_string_equal(q.order_sql, "(tags #> ARRAY[$1::text])");
	assert_int_equal(q.order_desc, 1);
	sql_is_fixed(&q);
	twinq_free(&q);

	ok("select top 3 deviceId from devices where tags.a = 'x' order by "
	   "properties.reported.t asc",
	   &q, 0);
	assert_string_equal(q.order_sql, "(reported #> ARRAY[$4::text])");
	assert_int_equal(q.order_desc, 0);
	assert_int_equal(q.nparams, 4);
	assert_string_equal(q.params[3], "t");
	assert_int_equal(q.top, 3);
	twinq_free(&q);

	ok("SELECT deviceId FROM devices ORDER BY deviceId", &q, 0);
	assert_string_equal(q.order_sql, "to_jsonb(device_id)");
	twinq_free(&q);

	ok("SELECT * FROM devices", &q, 0);
	assert_null(q.order_sql);
	twinq_free(&q);

	refused("SELECT * FROM devices ORDER BY tags.n SIDEWAYS", 0, 38, "expected ASC or DESC");
	refused("SELECT * FROM devices ORDER BY tags.n DESC, tags.m", 0, 42, "one path");
	refused("SELECT * FROM devices ORDER tags.n", 0, 28, "expected BY");
	refused("SELECT * FROM devices ORDER BY", 0, 30, "expected deviceId");
	refused("SELECT * FROM devices ORDER BY tags.n WHERE tags.a = 1", 0, 38, "ASC or DESC");
	refused("SELECT * FROM devices ORDER BY tags.n DESC DESC", 0, 43, "unexpected text");
	refused("SELECT tags.a, COUNT() AS n FROM devices GROUP BY tags.a ORDER BY tags.a", 0, 57,
		"cannot be used with GROUP BY");
	refused("SELECT COUNT() AS n FROM devices ORDER BY tags.a", 0, 33,
		"cannot be used with GROUP BY");
	refused("SELECT * FROM devices ORDER BY tags.'x'", 0, 36, "expected a property name");
}

/* Quotes, semicolons, comments and unicode end up in parameters; the SQL
 * is ours byte for byte. */
static void test_injection(void **state)
{
	static const char *const attempts[] = {
		"SELECT * FROM devices WHERE tags.a = 'x''; DROP TABLE twins; --'",
		"SELECT * FROM devices WHERE tags.a = 'x\\'; DROP TABLE twins; --'",
		"SELECT * FROM devices WHERE tags.a = '/* */ OR 1=1 --'",
		"SELECT * FROM devices WHERE tags.$a$ = '$$; SELECT 1; $$'",
		"SELECT * FROM devices WHERE tags.a = 'ʼ OR ʼ1ʼ=ʼ1'",
		"SELECT * FROM devices WHERE tags.a IN ['\\u0027; DELETE FROM twins']",
		"SELECT tags.x-y AS z FROM devices WHERE STARTS_WITH(tags.a, '%_\\\\')",
	};
	(void)state;
	for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
		struct twinq q;
		struct twinq_error e;

		if (twinq_compile(attempts[i], &q, &e) != 0)
			continue; /* refused is fine too */
		sql_is_fixed(&q);
		twinq_free(&q);
	}
	/* The first one: a doubled quote is not an escape, so text follows. */
	refused(attempts[0], 0, 40, "unexpected text");
	refused("SELECT * FROM devices; DROP TABLE twins", 0, 21, "unexpected character");
	refused("SELECT * FROM devices -- x", 0, 22, "malformed number");
	refused("SELECT * FROM devices WHERE tags.a = 1 /* x */", 0, 39, "unexpected character");
	refused("SELECT * FROM devices WHERE tags.a = '\xff'", 0, 0, "not UTF-8");
}

static void test_param_base(void **state)
{
	struct twinq q;
	struct twinq_error e;

	(void)state;
	assert_int_equal(twinq_compile_condition_from("tags.a > 1 AND deviceId = 'x'", 7, &q, &e),
			 0);
	assert_non_null(strstr(q.where_sql, "$8::text"));
	assert_non_null(strstr(q.where_sql, "(device_id = $13::text)"));
	assert_null(strstr(q.where_sql, "$1:"));
	assert_int_equal(q.nparams, 6);
	twinq_free(&q);
}

/* Appends s at big + n (big holds BIG bytes); returns the new length. */
#define BIG (TWINQ_TEXT_MAX + 64)
static size_t put(char *big, size_t n, const char *s)
{
	int w = snprintf(big + n, BIG - n, "%s", s);

	assert_true(w >= 0 && n + (size_t)w < BIG);
	return n + (size_t)w;
}

static void test_limits(void **state)
{
	char *big = malloc(BIG);
	struct twinq q;
	size_t n = 0;

	(void)state;
	/* Length. */
	n = (size_t)snprintf(big, 64, "SELECT * FROM devices WHERE tags.a = '");
	memset(big + n, 'x', TWINQ_TEXT_MAX - n - 1);
	put(big, TWINQ_TEXT_MAX - 1, "'");
	refused(big, 0, 37, "longer than 4096");
	big[TWINQ_TEXT_MAX] = 'x';
	big[TWINQ_TEXT_MAX + 1] = '\0';
	refused(big, 0, TWINQ_TEXT_MAX, "longer than 8192");
	/* Nesting: 32 parentheses pass, 33 do not. */
	for (int depth = 32; depth <= 33; depth++) {
		n = 0;
		for (int i = 0; i < depth; i++)
			big[n++] = '(';
		n = put(big, n, "tags.a = 1");
		for (int i = 0; i < depth; i++)
			big[n++] = ')';
		big[n] = '\0';
		if (depth == 32) {
			ok(big, &q, 1);
			twinq_free(&q);
		} else {
			refused(big, 1, 32, "nested deeper");
		}
	}
	n = 0;
	for (int i = 0; i < 40; i++)
		n = put(big, n, "NOT ");
	put(big, n, "tags.a = 1");
	refused(big, 1, 128, "nested deeper");
	/* Path depth. */
	refused("tags.a.b.c.d.e.f.g.h.i.j.k.l.m = 1", 1, 29, "deeper than 12");
	/* Parameters. */
	n = put(big, 0, "tags.a IN [1");
	for (int i = 0; i < 600; i++)
		n = put(big, n, ",1");
	put(big, n, "]");
	refused(big, 1, 1034, "more than 512");
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equality_uses_containment),
		cmocka_unit_test(test_comparisons),
		cmocka_unit_test(test_in_nin),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_select_forms),
		cmocka_unit_test(test_select_refusals),
		cmocka_unit_test(test_order_by),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_param_base),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
