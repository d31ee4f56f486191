/* Unit tests for the timer heap and the job pool: order, cancel, re-arm,
 * fire-all, and that a job's request is suspended before the job runs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/jobs.h"
#include "server/request.h"
#include "server/timers.h"

struct log {
	pthread_mutex_t mu;
	int seq[64];
	int n;
};

static struct log fired = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

struct tagged {
	struct timer tm;
	int tag;
};

static void record(void *cls)
{
	struct tagged *t = cls;

	pthread_mutex_lock(&fired.mu);
	if (fired.n < 64)
		fired.seq[fired.n++] = t->tag;
	pthread_mutex_unlock(&fired.mu);
}

static int fired_count(void)
{
	pthread_mutex_lock(&fired.mu);
	int n = fired.n;
	pthread_mutex_unlock(&fired.mu);
	return n;
}

static void wait_fired(int n)
{
	for (int i = 0; i < 400 && fired_count() < n; i++)
		usleep(5000);
}

static void test_order_and_cancel(void **state)
{
	struct timers *t = timers_start();
	struct tagged tg[8] = {0};
	uint64_t now = timers_now_ms();
	/* due in a shuffled order; tag = rank of the deadline */
	static const int due[8] = {70, 10, 50, 30, 80, 20, 60, 40};

	(void)state;
	fired.n = 0;
	for (int i = 0; i < 8; i++) {
		tg[i].tag = due[i] / 10;
		assert_int_equal(
			timers_add(t, &tg[i].tm, now + 50 + (uint64_t)due[i], record, &tg[i]), 0);
	}
	timers_cancel(t, &tg[2].tm); /* 50 */
	timers_cancel(t, &tg[2].tm); /* twice is harmless */
	assert_int_equal(timers_count(t), 7);
	wait_fired(7);
	usleep(20000);
	assert_int_equal(fired_count(), 7);
	static const int want[7] = {1, 2, 3, 4, 6, 7, 8};
	for (int i = 0; i < 7; i++)
		assert_int_equal(fired.seq[i], want[i]);
	assert_int_equal(timers_count(t), 0);
	timers_stop(t);
}

static void test_rearm_and_fire_all(void **state)
{
	struct timers *t = timers_start();
	struct tagged a = {.tag = 1}, b = {.tag = 2};
	uint64_t now = timers_now_ms();

	(void)state;
	fired.n = 0;
	assert_int_equal(timers_add(t, &a.tm, now + 60000, record, &a), 0);
	assert_int_equal(timers_add(t, &b.tm, now + 60000, record, &b), 0);
	/* Re-arming moves a timer, never duplicates it. */
	assert_int_equal(timers_add(t, &a.tm, now + 20, record, &a), 0);
	assert_int_equal(timers_count(t), 2);
	wait_fired(1);
	assert_int_equal(fired_count(), 1);
	assert_int_equal(fired.seq[0], 1);
	timers_fire_all(t);
	assert_int_equal(fired_count(), 2);
	assert_int_equal(fired.seq[1], 2);
	assert_int_equal(timers_count(t), 0);
	timers_stop(t);
}

static void test_many(void **state)
{
	struct timers *t = timers_start();
	enum { N = 5000 };
	struct tagged *tg = calloc(N, sizeof *tg);
	uint64_t now = timers_now_ms();

	(void)state;
	assert_non_null(tg);
	srand(7);
	for (int i = 0; i < N; i++)
		assert_int_equal(timers_add(t, &tg[i].tm, now + 100000 + (uint64_t)(rand() % 1000),
					    record, &tg[i]),
				 0);
	for (int i = 0; i < N; i += 2)
		timers_cancel(t, &tg[i].tm);
	assert_int_equal(timers_count(t), N / 2);
	/* The heap still pops in deadline order after random removals. */
	uint64_t prev = 0;
	for (int i = 0; i < N / 2; i++) {
		struct timer *first = NULL;
		for (int k = 1; k < N; k += 2)
			if (tg[k].tm.slot == 1)
				first = &tg[k].tm;
		assert_non_null(first);
		assert_true(first->due_ms >= prev);
		prev = first->due_ms;
		timers_cancel(t, first);
	}
	assert_int_equal(timers_count(t), 0);
	timers_stop(t);
	free(tg);
}

/* The job pool's request side, with libmicrohttpd's suspend/resume
 * replaced by a recorder: the order of events is what is under test. */
static atomic_int suspended, resumed, ran_while_suspended;

void request_suspend(struct request *req)
{
	(void)req;
	atomic_fetch_add(&suspended, 1);
}

void request_resume(struct request *req)
{
	(void)req;
	atomic_fetch_add(&resumed, 1);
}

static void job_body(void *st)
{
	int *x = st;

	if (atomic_load(&suspended) > atomic_load(&resumed))
		atomic_fetch_add(&ran_while_suspended, 1);
	*x *= 2;
}

static void test_jobs(void **state)
{
	struct jobs *j = jobs_start(2, 8);
	struct request req[4] = {0};
	int vals[4] = {1, 2, 3, 4};

	(void)state;
	for (int i = 0; i < 4; i++) {
		req[i].state = &vals[i];
		assert_true(jobs_run_for(j, &req[i], job_body));
	}
	for (int i = 0; i < 400 && atomic_load(&resumed) < 4; i++)
		usleep(5000);
	assert_int_equal(atomic_load(&suspended), 4);
	assert_int_equal(atomic_load(&resumed), 4);
	assert_int_equal(atomic_load(&ran_while_suspended), 4);
	assert_int_equal(vals[3], 8);
	jobs_stop(j);

	/* A full queue refuses without suspending, so the handler can answer. */
	j = jobs_start(0, 1);
	atomic_store(&suspended, 0);
	assert_true(jobs_run_for(j, &req[0], job_body));
	assert_false(jobs_run_for(j, &req[1], job_body));
	assert_int_equal(atomic_load(&suspended), 1);
	jobs_stop(j); /* no workers: stop runs the queued job itself */
	assert_int_equal(atomic_load(&resumed), 5);

	/* Drained (before libmicrohttpd stops): the queued request resumed,
	 * later jobs refused unsuspended, a second drain and the stop harmless. */
	j = jobs_start(0, 4);
	assert_true(jobs_run_for(j, &req[2], job_body));
	jobs_drain(j);
	assert_int_equal(atomic_load(&resumed), 6);
	assert_false(jobs_run_for(j, &req[3], job_body));
	assert_int_equal(atomic_load(&suspended), 2);
	jobs_drain(j);
	jobs_stop(j);
	assert_int_equal(atomic_load(&resumed), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_cancel),
		cmocka_unit_test(test_rearm_and_fire_all),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_jobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
