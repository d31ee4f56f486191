/* server/acme_outcomes.c: an outcome is taken once, with its own copy of
 * the error, and a slot's new outcome replaces the old one; the
 * unrecorded hand-over goes to exactly one recorder or to none. */
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

/* Delivered while expected: the answer claims it, once; the put of a
 * recorded outcome for it meanwhile is dropped (the slot is busy). */
static void test_handed(void **state)
{
	struct acme_outcome out;

	(void)state;
	assert_true(acme_outcome_expect("h-1"));
	assert_false(acme_outcome_expect("h-1")); /* a racing answer */
	assert_false(acme_outcome_claim("h-1", &out));
	acme_outcome_put("h-1", &(struct acme_outcome){true, 1, NULL});
	assert_false(acme_outcome_take("h-1", &out));
	assert_int_equal(acme_outcome_deliver("h-1", &(struct acme_outcome){false, 0, "e"}),
			 ACME_OUTCOME_HANDED);
	assert_true(acme_outcome_claim("h-1", &out));
	assert_false(out.ok);
	assert_string_equal(out.error, "e");
	free(out.error);
	assert_false(acme_outcome_claim("h-1", &out));
	/* A second job's outcome for it: nobody may record it. */
	assert_int_equal(acme_outcome_deliver("h-1", &(struct acme_outcome){true, 0, NULL}),
			 ACME_OUTCOME_DROPPED);
}

/* The answer stops waiting: before the outcome, the job records it; after
 * it, the answer has it; cancelled, nobody records it. */
static void test_abandoned_cancelled(void **state)
{
	struct acme_outcome out;

	(void)state;
	assert_true(acme_outcome_expect("a-1"));
	assert_false(acme_outcome_abandon("a-1", &out));
	assert_int_equal(acme_outcome_deliver("a-1", &(struct acme_outcome){true, 0, NULL}),
			 ACME_OUTCOME_RECORD);
	assert_int_equal(acme_outcome_deliver("a-1", &(struct acme_outcome){true, 0, NULL}),
			 ACME_OUTCOME_DROPPED);

	assert_true(acme_outcome_expect("a-2"));
	assert_int_equal(acme_outcome_deliver("a-2", &(struct acme_outcome){false, 0, "late"}),
			 ACME_OUTCOME_HANDED);
	assert_true(acme_outcome_abandon("a-2", &out));
	assert_string_equal(out.error, "late");
	free(out.error);

	assert_true(acme_outcome_expect("a-3"));
	acme_outcome_cancel("a-3");
	assert_int_equal(acme_outcome_deliver("a-3", &(struct acme_outcome){true, 0, NULL}),
			 ACME_OUTCOME_DROPPED);
	assert_true(acme_outcome_expect("a-4"));
	assert_int_equal(acme_outcome_deliver("a-4", &(struct acme_outcome){false, 0, "gone"}),
			 ACME_OUTCOME_HANDED);
	acme_outcome_cancel("a-4"); /* frees the delivered error: ASan and valgrind see */
	assert_false(acme_outcome_claim("a-4", &out));
	assert_true(acme_outcome_expect("a-4")); /* the slot is free again */
	acme_outcome_cancel("a-4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_once),
		cmocka_unit_test(test_replaced),
		cmocka_unit_test(test_handed),
		cmocka_unit_test(test_abandoned_cancelled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
