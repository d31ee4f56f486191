/* Unit tests for the router and scopes against a test route table: capture,
 * percent-decoding, case-insensitive literals, 404 versus 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/routes.h"

static int h(struct request *req)
{
	(void)req;
	return 1;
}

const struct route routes[] = {
	{"GET", "/healthz", h, PUBLIC, BODY_NONE, 0, WIRE_ORCHARD, "healthz"},
	{"PUT", "/{scope}/registrations/{id}/register", h, PUBLIC, BODY_JSON, 1024, WIRE_ORCHARD,
	 "register"},
	{"GET", "/ops/tokens/{jti}", h, OPERATOR(SCOPE_TOKENS_READ), BODY_NONE, 0, WIRE_ORCHARD,
	 "get"},
	{"DELETE", "/ops/tokens/{jti}", h, OPERATOR(SCOPE_TOKENS_WRITE), BODY_NONE, 0, WIRE_ORCHARD,
	 "del"},
};
const size_t routes_count = sizeof routes / sizeof routes[0];

struct match {
	enum route_match m;
	const struct route *r;
	char *p[ROUTE_MAX_PARAMS];
	int n;
	char allow[64];
};

static void find(const char *method, const char *path, struct match *out)
{
	memset(out, 0, sizeof *out);
	out->m = route_find(method, path, &out->r, out->p, &out->n, out->allow, sizeof out->allow);
}

static void match_free(struct match *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->p[i]);
}

static void test_exact_and_capture(void **state)
{
	struct match m;
	(void)state;
	find("GET", "/healthz", &m);
	assert_int_equal(m.m, ROUTE_FOUND);
	assert_ptr_equal(m.r, &routes[0]);
	find("PUT", "/0ne00AB/registrations/dev-01/register", &m);
	assert_int_equal(m.m, ROUTE_FOUND);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.p[0], "0ne00AB");
	assert_string_equal(m.p[1], "dev-01");
	match_free(&m);
}

static void test_case_insensitive_and_decoding(void **state)
{
	struct match m;
	(void)state;
	/* The Azure C SDK encodes with lower-case hex; literals may vary in case. */
	find("PUT", "/0ne/Registrations/a%2fb%20c/REGISTER", &m);
	assert_int_equal(m.m, ROUTE_FOUND);
	assert_string_equal(m.p[1], "a/b c");
	match_free(&m);
	find("PUT", "/0ne/registrations/a%2/register", &m);
	assert_int_equal(m.m, ROUTE_NO_PATH);
	find("PUT", "/0ne/registrations/a%00b/register", &m);
	assert_int_equal(m.m, ROUTE_NO_PATH);
	find("PUT", "/0ne/registrations/a%zzb/register", &m);
	assert_int_equal(m.m, ROUTE_NO_PATH);
}

static void test_not_found_versus_method(void **state)
{
	struct match m;
	(void)state;
	find("GET", "/healthz/", &m);
	assert_int_equal(m.m, ROUTE_NO_PATH);
	find("GET", "/ops/tokens/", &m);
	assert_int_equal(m.m, ROUTE_NO_PATH);
	find("GET", "/ops/tokens/a/b", &m);
	assert_int_equal(m.m, ROUTE_NO_PATH);
	find("GET", "", &m);
	assert_int_equal(m.m, ROUTE_NO_PATH);
	find("POST", "/ops/tokens/x", &m);
	assert_int_equal(m.m, ROUTE_NO_METHOD);
	assert_string_equal(m.allow, "GET, HEAD, DELETE");
	assert_int_equal(m.n, 0);
}

static void test_scopes(void **state)
{
	char text[256];
	(void)state;
	assert_int_equal(scope_parse("all"), SCOPE_ALL);
	assert_int_equal(scope_parse("twins:read"), SCOPE_TWINS_READ);
	assert_int_equal(scope_parse("twins"), 0);
	assert_int_equal(scope_parse(""), 0);
	unsigned bad;
	assert_int_equal(scope_parse_list("twins:read audit:read", &bad),
			 SCOPE_TWINS_READ | SCOPE_AUDIT_READ);
	assert_int_equal(bad, 0);
	assert_int_equal(scope_parse_list(" twins:read  root x", &bad), SCOPE_TWINS_READ);
	assert_int_equal(bad, 3); /* the leading space, "root" and "x" */
	assert_int_equal(scope_parse_list("", &bad), 0);
	assert_int_equal(bad, 0);
	scope_format(SCOPE_TWINS_READ | SCOPE_AUDIT_READ, text, sizeof text);
	assert_string_equal(text, "twins:read audit:read");
	scope_format(SCOPE_ALL, text, sizeof text);
	assert_string_equal(text, "all");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_and_capture),
		cmocka_unit_test(test_case_insensitive_and_decoding),
		cmocka_unit_test(test_not_found_versus_method),
		cmocka_unit_test(test_scopes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
