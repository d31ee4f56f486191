/* The storage core against a real PostgreSQL (ORCHARD_DATABASE_URL): pool
 * limits, prepared statements across reconnects, the transaction runner's
 * commit, rollback and retry, deadlines against a stopped backend, and the
 * token and audit queries. Run by tests/integration/store.sh. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/store/events.h"
#include "server/store/migrate.h"
#include "server/store/operators.h"
#include "server/store/events.h"
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

	if (c == NULL || migrate_apply(url) != 0)
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

/* A connection of its own that LISTENs on channel. */
static PGconn *listener(const char *channel)
{
	char sql[128];
	PGconn *pg = PQconnectdb(url);
	PGresult *res;

	assert_int_equal(PQstatus(pg), CONNECTION_OK);
	snprintf(sql, sizeof sql, "LISTEN %s", channel);
	res = PQexec(pg, sql);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	return pg;
}

/* Counts the notifications pg receives within ms milliseconds. */
static int count_notifies(PGconn *pg, int ms)
{
	struct pollfd pfd = {PQsocket(pg), POLLIN, 0};
	int n = 0;

	while (poll(&pfd, 1, ms) > 0) {
		PQconsumeInput(pg);
		for (PGnotify *nt; (nt = PQnotifies(pg)) != NULL; PQfreemem(nt))
			n++;
	}
	return n;
}

struct mint {
	const char *jti, *issuer;
	long long exp;
};

static enum store_qs mint_cb(struct store_conn *c, void *cls)
{
	struct mint *m = cls;
	struct store_token t = {.jti = (char *)m->jti,
				.subject = "t",
				.scopes = "all",
				.issuer = (char *)m->issuer,
				.expires_at = m->exp};

	return store_insert_token(c, &t);
}

static enum store_qs revoke_cb(struct store_conn *c, void *cls)
{
	return store_revoke_token(c, cls);
}

static enum store_qs lock_cb(struct store_conn *c, void *cls)
{
	long long exp;

	return store_lock_token(c, cls, &exp);
}

static void test_token_rows_and_conflict(void **state)
{
	struct store *s = *state;
	struct mint m = {"row-1", NULL, (long long)time(NULL) + 600};
	struct store_conn *c;
	struct store_token t;

	assert_int_equal(store_run(s, mint_cb, &m), STORE_NONE);
	/* A jti in use is a conflict, not a retry. */
	assert_int_equal(store_run(s, mint_cb, &m), STORE_CONFLICT);
	c = store_acquire(s, 1000);
	assert_int_equal(store_select_token(c, "row-1", &t), STORE_ONE);
	assert_string_equal(t.subject, "t");
	assert_null(t.issuer);
	assert_int_equal(t.expires_at, m.exp);
	assert_int_equal(t.revoked_at, 0);
	store_token_free(&t);
	assert_int_equal(store_select_token(c, "no-such", &t), STORE_NONE);
	store_release(s, c);
}

static void test_revocation_is_transitive_and_announced(void **state)
{
	struct store *s = *state;
	long long exp = (long long)time(NULL) + 600;
	struct mint tree[] = {{"root", NULL, exp},
			      {"child-a", "root", exp},
			      {"child-b", "root", exp},
			      {"grandchild", "child-a", exp},
			      {"other", NULL, exp}};
	PGconn *l = listener(EVENTS_TOKEN_REVOKED);

	for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++)
		assert_int_equal(store_run(s, mint_cb, &tree[i]), STORE_NONE);
	assert_int_equal(store_run_txn(s, lock_cb, "child-a"), STORE_ONE);
	/* root and its three descendants, in one go, each announced. */
	assert_int_equal(store_run_txn(s, revoke_cb, "root"), 4);
	assert_int_equal(count_notifies(l, 300), 4);
	assert_int_equal(store_run_txn(s, revoke_cb, "root"), STORE_NONE);
	assert_int_equal(store_run_txn(s, revoke_cb, "grandchild"), STORE_NONE);
	/* A revoked token can no longer be locked to mint from. */
	assert_int_equal(store_run_txn(s, lock_cb, "child-a"), STORE_NONE);
	assert_int_equal(store_run_txn(s, lock_cb, "other"), STORE_ONE);
	PQfinish(l);
}

struct revoker {
	struct store *s;
	const char *jti;
	enum store_qs qs;
};

static void *revoke_thread(void *arg)
{
	struct revoker *r = arg;

	r->qs = store_run_txn(r->s, revoke_cb, (void *)r->jti);
	return NULL;
}

/* A revocation that starts while a child is being minted from the token
 * waits for the mint and revokes the child too: no token escapes. */
static void test_revocation_waits_for_a_mint_in_flight(void **state)
{
	struct store *s = *state, *other = store_new(url, 1, 0);
	long long exp = (long long)time(NULL) + 600, parent_exp;
	struct mint parent = {"race-parent", NULL, exp};
	struct store_token child = {.jti = "race-child",
				    .subject = "t",
				    .scopes = "all",
				    .issuer = "race-parent",
				    .expires_at = exp};
	struct revoker r = {other, "race-parent", STORE_HARD};
	struct store_conn *c;
	pthread_t th;

	assert_int_equal(store_run(s, mint_cb, &parent), STORE_NONE);
	c = store_acquire(s, 1000);
	assert_int_equal(store_exec_simple(c, "BEGIN"), STORE_NONE);
	assert_int_equal(store_lock_token(c, "race-parent", &parent_exp), STORE_ONE);
	assert_int_equal(parent_exp, exp);
	assert_int_equal(pthread_create(&th, NULL, revoke_thread, &r), 0);
	usleep(300 * 1000); /* the revocation is now waiting on our lock */
	assert_int_equal(store_insert_token(c, &child), STORE_NONE);
	assert_int_equal(store_exec_simple(c, "COMMIT"), STORE_NONE);
	store_release(s, c);
	pthread_join(th, NULL);
	assert_int_equal(r.qs, 2);
	store_free(other);
}

static enum store_qs audit_cb(struct store_conn *c, void *cls)
{
	long long id;
	enum store_qs qs = store_insert_audit(c, cls, &id);

	assert_true(qs < 0 || id > 0);
	return qs;
}

struct audit_read {
	long long after;
	int newest_first;
	struct store_audit_page page;
};

static enum store_qs audit_read_cb(struct store_conn *c, void *cls)
{
	struct audit_read *r = cls;

	if (r->newest_first)
		return store_select_audit(c, 0, 10, &r->page);
	return store_select_audit_after(c, r->after, 10, &r->page);
}

static void test_audit_rows_announced_and_listed(void **state)
{
	struct store *s = *state;
	struct store_audit_new e = {.subject = "op",
				    .jti = "j",
				    .method = "DELETE",
				    .path = "/OPS/TOKENS/%37",
				    .route = "/ops/tokens/{jti}",
				    .params_json = "{\"jti\":\"7\"}",
				    .request_id = "r",
				    .status = 204};
	struct audit_read first = {.newest_first = 1}, after = {0};
	PGconn *l = listener(EVENTS_AUDIT);

	assert_int_equal(store_run_txn(s, audit_cb, &e), STORE_ONE);
	e.route = NULL;
	e.params_json = NULL;
	e.target = "minted";
	assert_int_equal(store_run_txn(s, audit_cb, &e), STORE_ONE);
	assert_int_equal(count_notifies(l, 300), 2);
	PQfinish(l);
	assert_true(store_run(s, audit_read_cb, &first) >= 2);
	assert_true(first.page.items[0].id > first.page.items[1].id);
	assert_string_equal(first.page.items[0].target, "minted");
	assert_null(first.page.items[0].route);
	assert_string_equal(first.page.items[1].route, "/ops/tokens/{jti}");
	assert_string_equal(first.page.items[1].params_json, "{\"jti\": \"7\"}");
	/* After the older one: only the newer, oldest first. */
	after.after = first.page.items[1].id;
	assert_int_equal(store_run(s, audit_read_cb, &after), STORE_ONE);
	assert_int_equal(after.page.items[0].id, first.page.items[0].id);
	store_audit_page_free(&after.page);
	after.after = first.page.items[0].id;
	assert_int_equal(store_run(s, audit_read_cb, &after), STORE_NONE);
	assert_int_equal(after.page.n, 0);
	store_audit_page_free(&first.page);
	store_audit_page_free(&after.page);
}

/* events_notify: wakes queued after commit reach a LISTENer, every one
 * with its channel and payload, in batches sent by the notifier; a payload
 * with a newline (the batch's separator) is refused; events_stop sends what
 * is still queued before it returns. */
static void test_notifier_sends_queued_wakes(void **state)
{
	static const char *const channels[] = {NULL};
	PGconn *l = listener(EVENTS_TWIN);
	struct events *ev = events_start(url, channels);
	char payload[64];
	int n = 0, audit = 0, seen[500] = {0};
	PGresult *res;

	(void)state;
	assert_non_null(ev);
	res = PQexec(l, "LISTEN " EVENTS_AUDIT);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	for (int i = 0; i < 500; i++) {
		snprintf(payload, sizeof payload, "dev-%d %d", i, i + 1);
		events_notify(ev, EVENTS_TWIN, payload);
	}
	events_notify(ev, EVENTS_TWIN, "dev-x 1\nforged 9"); /* refused whole */
	events_notify(ev, EVENTS_AUDIT, "42");
	events_stop(ev); /* flushes */
	struct pollfd pfd = {PQsocket(l), POLLIN, 0};
	while (poll(&pfd, 1, 500) > 0) {
		PQconsumeInput(l);
		for (PGnotify *nt; (nt = PQnotifies(l)) != NULL; PQfreemem(nt)) {
			char *end;
			if (strcmp(nt->relname, EVENTS_AUDIT) == 0) {
				assert_string_equal(nt->extra, "42");
				audit++;
				continue;
			}
			assert_memory_equal(nt->extra, "dev-", 4);
			long i = strtol(nt->extra + 4, &end, 10);
			assert_true(*end == ' ' && i >= 0 && i < 500);
			assert_int_equal(strtol(end + 1, &end, 10), i + 1);
			assert_int_equal(*end, '\0');
			seen[i]++;
			n++;
		}
	}
	PQfinish(l);
	assert_int_equal(n, 500);
	assert_int_equal(audit, 1);
	for (int i = 0; i < 500; i++)
		assert_int_equal(seen[i], 1);
}

static void test_check_ready(void **state)
{
	assert_int_equal(store_check_ready(*state), 1);
}

/* The pid of the backend serving c. */
static int backend_pid(struct store_conn *c)
{
	static struct store_stmt st = {"t_pid", "SELECT pg_backend_pid()", 0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);
	int pid = res ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : -1;

	PQclear(res);
	return pid;
}

static void test_deadline_against_a_stopped_backend(void **state)
{
	struct store *s = store_new(url, 1, 700);
	struct store_stats st;
	struct store_conn *c;
	int64_t t0;
	int pid;

	(void)state;
	c = store_acquire(s, 1000);
	assert_non_null(c);
	pid = backend_pid(c);
	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = store_now_ms();
	assert_int_equal(exec_count(c), -1);
	kill(pid, SIGCONT);
	assert_true(store_now_ms() - t0 < 1200);
	store_release(s, c);
	store_get_stats(s, &st);
	assert_int_equal(st.deadlines, 1);
	/* The breaker is open: the next caller hears 503 at once. */
	t0 = store_now_ms();
	assert_null(store_acquire(s, 1000));
	assert_true(store_now_ms() - t0 < 50);
	/* After the probe interval one caller tries again, and succeeds. */
	usleep(1100 * 1000);
	c = store_acquire(s, 1000);
	assert_non_null(c);
	assert_true(exec_count(c) >= 0);
	store_release(s, c);
	c = store_acquire(s, 1000);
	assert_non_null(c);
	store_release(s, c);
	store_free(s);
}

/* The postmaster's pid, from $PGDIR/pg/postmaster.pid (scripts/pg-cluster). */
static int postmaster_pid(void)
{
	char path[512], line[32];
	const char *dir = getenv("PGDIR");
	FILE *f;
	int pid = -1;

	if (dir == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/pg/postmaster.pid", dir);
	f = fopen(path, "r");
	if (f != NULL && fgets(line, sizeof line, f) != NULL)
		pid = (int)strtol(line, NULL, 10);
	if (f != NULL)
		fclose(f);
	return pid;
}

static void test_connect_deadline_against_a_stopped_postmaster(void **state)
{
	struct store *s = store_new(url, 1, 700);
	int pid = postmaster_pid();
	int64_t t0;

	(void)state;
	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = store_now_ms();
	assert_null(store_acquire(s, 1000));
	kill(pid, SIGCONT);
	assert_true(store_now_ms() - t0 < 1200);
	store_free(s);
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
		cmocka_unit_test(test_token_rows_and_conflict),
		cmocka_unit_test(test_revocation_is_transitive_and_announced),
		cmocka_unit_test(test_revocation_waits_for_a_mint_in_flight),
		cmocka_unit_test(test_audit_rows_announced_and_listed),
		cmocka_unit_test(test_notifier_sends_queued_wakes),
		cmocka_unit_test(test_check_ready),
		cmocka_unit_test(test_deadline_against_a_stopped_backend),
		cmocka_unit_test(test_connect_deadline_against_a_stopped_postmaster),
	};
	url = getenv("ORCHARD_DATABASE_URL");
	if (url == NULL)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
