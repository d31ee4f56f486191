/* server/acme_outcomes.c: an outcome is taken once, with its own copy of
 * the error, and a slot's new outcome replaces the old one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/acme_outcomes.h"

static void test_take_once(void **state)
{
	char error[] = "{\"type\":\"urn:ietf:params:acme:error:connection\"}";
	struct acme_outcome in = {false, 0, error}, out;

	(void)state;
	assert_false(acme_outcome_take("never-put", &out));
	acme_outcome_put("chall-1", &in);
	error[0] = 'X'; /* the table holds a copy */
	acme_outcome_put("chall-2", &(struct acme_outcome){true, 1764660000, NULL});
	assert_true(acme_outcome_take("chall-1", &out));
	assert_false(out.ok);
	assert_string_equal(out.error, "{\"type\":\"urn:ietf:params:acme:error:connection\"}");
	free(out.error);
	assert_false(acme_outcome_take("chall-1", &out));
	assert_true(acme_outcome_take("chall-2", &out));
	assert_true(out.ok);
	assert_int_equal(out.validated, 1764660000);
	assert_null(out.error);
}

/* 1,200 outcomes in 1,024 slots: some replaced (their error freed, which
 * valgrind and ASan check), every one taken at most once, none mixed up. */
static void test_replaced(void **state)
{
	char id[32], err[32];
	int taken = 0;

	(void)state;
	for (int i = 0; i < 1200; i++) {
		snprintf(id, sizeof id, "c%d", i);
		snprintf(err, sizeof err, "e%d", i);
		acme_outcome_put(id, &(struct acme_outcome){false, 0, err});
	}
	for (int i = 0; i < 1200; i++) {
		struct acme_outcome out;
		snprintf(id, sizeof id, "c%d", i);
		snprintf(err, sizeof err, "e%d", i);
		if (!acme_outcome_take(id, &out))
			continue;
		taken++;
		assert_string_equal(out.error, err);
		free(out.error);
		assert_false(acme_outcome_take(id, &out));
	}
	assert_in_range(taken, 1, 1024);
	assert_true(taken < 1200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_once),
		cmocka_unit_test(test_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
