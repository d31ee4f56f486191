/* The storage core against a real PostgreSQL (ORCHARD_DATABASE_URL): pool
 * limits, prepared statements across reconnects, the transaction runner's
 * commit, rollback and retry. Run by tests/integration/store.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/store/store_pg.h"

static const char *url;

/* Counts the test table's rows on c: the count, or -1 on failure. */
static long exec_count(struct store_conn *c)
{
	static struct store_stmt st = {"t_count", "SELECT count(*) FROM store_test", 0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);
	long n = res != NULL ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : -1;

	PQclear(res);
	return n;
}

static long count_rows(struct store *s)
{
	struct store_conn *c = store_acquire(s, 1000);
	long n;

	assert_non_null(c);
	n = exec_count(c);
	store_release(s, c);
	return n;
}

static int setup(void **state)
{
	struct store *s = store_new(url, 2, 0);
	struct store_conn *c = store_acquire(s, 1000);

	if (c == NULL)
		return -1;
	store_exec_simple(c, "DROP TABLE IF EXISTS store_test");
	store_exec_simple(c, "CREATE TABLE store_test (v int)");
	store_release(s, c);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	store_free(*state);
	return 0;
}

static void test_pool_is_bounded(void **state)
{
	struct store *s = *state;
	struct store_stats st;
	struct store_conn *a = store_acquire(s, 100), *b = store_acquire(s, 100);

	assert_non_null(a);
	assert_non_null(b);
	assert_null(store_acquire(s, 50)); /* both taken: gives up, never grows */
	store_get_stats(s, &st);
	assert_int_equal(st.in_use, 2);
	assert_true(st.timeouts >= 1);
	store_release(s, a);
	store_release(s, b);
	store_get_stats(s, &st);
	assert_int_equal(st.in_use, 0);
}

struct txn_case {
	int attempts;
	int fail_soft_times;
	int fail_hard;
};

static enum store_qs insert_cb(struct store_conn *c, void *cls)
{
	static struct store_stmt ins = {"t_insert", "INSERT INTO store_test VALUES (1)", 0};
	struct txn_case *t = cls;
	enum store_qs qs;

	t->attempts++;
	PQclear(store_exec(c, &ins, 0, NULL, &qs));
	if (qs < 0)
		return qs;
	if (t->attempts <= t->fail_soft_times)
		return store_exec_simple(
			c, "DO $$BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END$$");
	if (t->fail_hard)
		return store_exec_simple(c, "SELECT 1/0");
	return STORE_ONE;
}

static void test_txn_commits(void **state)
{
	struct txn_case t = {0};
	long before = count_rows(*state);

	assert_int_equal(store_run_txn(*state, insert_cb, &t), STORE_ONE);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(count_rows(*state), before + 1);
}

static void test_txn_retries_serialization_failures(void **state)
{
	struct txn_case t = {.fail_soft_times = 2};
	long before = count_rows(*state);

	assert_int_equal(store_run_txn(*state, insert_cb, &t), STORE_ONE);
	assert_int_equal(t.attempts, 3);
	/* The failed attempts left nothing behind. */
	assert_int_equal(count_rows(*state), before + 1);
}

static void test_txn_gives_up_after_three(void **state)
{
	struct txn_case t = {.fail_soft_times = 10};
	long before = count_rows(*state);

	assert_int_equal(store_run_txn(*state, insert_cb, &t), STORE_SOFT);
	assert_int_equal(t.attempts, 3);
	assert_int_equal(count_rows(*state), before);
}

static void test_txn_rolls_back_hard_errors(void **state)
{
	struct txn_case t = {.fail_hard = 1};
	long before = count_rows(*state);

	assert_int_equal(store_run_txn(*state, insert_cb, &t), STORE_HARD);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(count_rows(*state), before);
}

static void test_reconnects_after_backend_death(void **state)
{
	static struct store_stmt kill_all = {
		"t_kill",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		" WHERE datname = current_database() AND pid <> pg_backend_pid()",
		0};
	struct store *s = *state, *killer = store_new(url, 1, 0);
	struct store_conn *a = store_acquire(s, 1000), *b = store_acquire(s, 1000), *k;
	enum store_qs qs;

	/* Both pool connections live, with t_count prepared on each. */
	assert_true(exec_count(a) >= 0);
	assert_true(exec_count(b) >= 0);
	store_release(s, a);
	store_release(s, b);
	k = store_acquire(killer, 1000);
	assert_non_null(k);
	PQclear(store_exec(k, &kill_all, 0, NULL, &qs));
	assert_true(qs >= 0);
	store_release(killer, k);
	store_free(killer);
	/* The first use of a dead connection fails: a 503 for its request. */
	a = store_acquire(s, 1000);
	assert_int_equal(exec_count(a), -1);
	store_release(s, a);
	/* That failure bumped the generation, so the other connection, dead
	 * too, reconnects before use instead of failing a second request. */
	a = store_acquire(s, 1000);
	b = store_acquire(s, 1000);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(exec_count(a) >= 0);
	assert_true(exec_count(b) >= 0);
	store_release(s, a);
	store_release(s, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_is_bounded),
		cmocka_unit_test(test_txn_commits),
		cmocka_unit_test(test_txn_retries_serialization_failures),
		cmocka_unit_test(test_txn_gives_up_after_three),
		cmocka_unit_test(test_txn_rolls_back_hard_errors),
		cmocka_unit_test(test_reconnects_after_backend_death),
	};
	url = getenv("ORCHARD_DATABASE_URL");
	if (url == NULL)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
