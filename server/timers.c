/* The timer heap. Callbacks run on the timer thread with the lock held:
 * they must be short (resuming a request is) and must not call back into
 * timers_*; in exchange, cancel is a hard guarantee with no reference
 * counting. */
#include "server/timers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct timers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool stop;
	struct timer **heap;
	size_t n, cap;
};

uint64_t timers_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void heap_set(struct timers *t, size_t i, struct timer *tm)
{
	t->heap[i] = tm;
	tm->slot = i + 1;
}

static void heap_up(struct timers *t, size_t i)
{
	struct timer *tm = t->heap[i];

	while (i > 0 && t->heap[(i - 1) / 2]->due_ms > tm->due_ms) {
		heap_set(t, i, t->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(t, i, tm);
}

static void heap_down(struct timers *t, size_t i)
{
	struct timer *tm = t->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= t->n)
			break;
		if (c + 1 < t->n && t->heap[c + 1]->due_ms < t->heap[c]->due_ms)
			c++;
		if (t->heap[c]->due_ms >= tm->due_ms)
			break;
		heap_set(t, i, t->heap[c]);
		i = c;
	}
	heap_set(t, i, tm);
}

/* Removes tm from the heap; the lock is held. */
static void heap_remove(struct timers *t, struct timer *tm)
{
	size_t i = tm->slot - 1;
	struct timer *last = t->heap[--t->n];

	tm->slot = 0;
	if (last == tm)
		return;
	heap_set(t, i, last);
	heap_up(t, i);
	heap_down(t, last->slot - 1);
}

static void *timers_main(void *arg)
{
	struct timers *t = arg;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		if (t->n == 0) {
			pthread_cond_wait(&t->cv, &t->mu);
			continue;
		}
		uint64_t now = timers_now_ms(), due = t->heap[0]->due_ms;
		if (due > now) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec + (due - now) * 1000000;
			ts.tv_sec += (time_t)(ns / 1000000000);
			ts.tv_nsec = (long)(ns % 1000000000);
			pthread_cond_timedwait(&t->cv, &t->mu, &ts);
			continue;
		}
		struct timer *tm = t->heap[0];
		heap_remove(t, tm);
		tm->cb(tm->cls);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct timers *timers_start(void)
{
	struct timers *t = calloc(1, sizeof *t);
	pthread_condattr_t ca;

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t->thread, NULL, timers_main, t) != 0) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return NULL;
	}
	return t;
}

void timers_stop(struct timers *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	for (size_t i = 0; i < t->n; i++)
		t->heap[i]->slot = 0;
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t->heap);
	free(t);
}

int timers_add(struct timers *t, struct timer *tm, uint64_t due_ms, void (*cb)(void *cls),
	       void *cls)
{
	int rc = -1;

	pthread_mutex_lock(&t->mu);
	if (tm->slot != 0)
		heap_remove(t, tm);
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct timer **h = realloc(t->heap, cap * sizeof *h);
		if (h == NULL)
			goto out;
		t->heap = h;
		t->cap = cap;
	}
	tm->due_ms = due_ms;
	tm->cb = cb;
	tm->cls = cls;
	t->heap[t->n] = tm;
	heap_up(t, t->n++);
	if (tm->slot == 1) /* a new earliest deadline: the thread sleeps too long */
		pthread_cond_signal(&t->cv);
	rc = 0;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void timers_cancel(struct timers *t, struct timer *tm)
{
	pthread_mutex_lock(&t->mu);
	if (tm->slot != 0)
		heap_remove(t, tm);
	pthread_mutex_unlock(&t->mu);
}

void timers_fire_all(struct timers *t)
{
	pthread_mutex_lock(&t->mu);
	while (t->n > 0) {
		struct timer *tm = t->heap[t->n - 1];
		heap_remove(t, tm);
		tm->cb(tm->cls);
	}
	pthread_mutex_unlock(&t->mu);
}

size_t timers_count(struct timers *t)
{
	pthread_mutex_lock(&t->mu);
	size_t n = t->n;
	pthread_mutex_unlock(&t->mu);
	return n;
}
