/* A waiter is an event subscription plus a timer plus a small state
 * machine under one lock: whichever comes first resumes the connection, at
 * most once per sleep, and never before the connection was suspended. */
#include "server/wait.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "server/server.h"
#include "server/store/events.h"
#include "server/timers.h"

struct waiter {
	struct server *srv;
	struct MHD_Connection *conn;
	pthread_mutex_t mu;
	bool sleeping; /* suspended by wait_sleep, not resumed yet */
	bool woken;    /* an event came since the last wait_sleep */
	bool expired;  /* the deadline passed */
	struct event_sub sub;
	struct timer timer;
};

static atomic_long sleeping_now;

/* Resumes the connection if it sleeps; the lock is held. */
static void wait_wake_locked(struct waiter *w)
{
	if (w->sleeping) {
		w->sleeping = false;
		atomic_fetch_sub(&sleeping_now, 1);
		MHD_resume_connection(w->conn);
	}
}

static void wait_on_event(void *cls, const char *payload)
{
	struct waiter *w = cls;

	(void)payload; /* NULL (a gap) wakes too: the waiter looks again */
	pthread_mutex_lock(&w->mu);
	w->woken = true;
	wait_wake_locked(w);
	pthread_mutex_unlock(&w->mu);
}

static void wait_on_deadline(void *cls)
{
	struct waiter *w = cls;

	pthread_mutex_lock(&w->mu);
	w->expired = true;
	wait_wake_locked(w);
	pthread_mutex_unlock(&w->mu);
}

struct waiter *wait_new(struct server *srv, struct MHD_Connection *conn, const char *channel,
			const char *key, long timeout_ms)
{
	struct waiter *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	w->srv = srv;
	w->conn = conn;
	pthread_mutex_init(&w->mu, NULL);
	if (events_subscribe(srv->events, &w->sub, channel, key, wait_on_event, w) != 0 ||
	    timers_add(srv->timers, &w->timer, timers_now_ms() + (uint64_t)timeout_ms,
		       wait_on_deadline, w) != 0) {
		wait_free(w);
		return NULL;
	}
	return w;
}

void wait_free(struct waiter *w)
{
	if (w == NULL)
		return;
	/* After these two no callback runs or will run: w can go. */
	events_unsubscribe(w->srv->events, &w->sub);
	timers_cancel(w->srv->timers, &w->timer);
	if (w->sleeping) /* freed while suspended: only at daemon teardown */
		atomic_fetch_sub(&sleeping_now, 1);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void wait_free_cb(void *w)
{
	wait_free(w);
}

bool wait_sleep(struct waiter *w)
{
	bool slept = false;

	pthread_mutex_lock(&w->mu);
	if (!w->woken && !w->expired && !atomic_load(&w->srv->shutting_down)) {
		MHD_suspend_connection(w->conn);
		w->sleeping = true;
		atomic_fetch_add(&sleeping_now, 1);
		slept = true;
	}
	w->woken = false;
	pthread_mutex_unlock(&w->mu);
	return slept;
}

bool wait_expired(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	bool expired = w->expired;
	pthread_mutex_unlock(&w->mu);
	return expired || atomic_load(&w->srv->shutting_down);
}

void wait_rearm(struct waiter *w, long timeout_ms)
{
	pthread_mutex_lock(&w->mu);
	w->expired = false;
	pthread_mutex_unlock(&w->mu);
	/* Not under w->mu: the timer's lock is taken before a waiter's. */
	timers_add(w->srv->timers, &w->timer, timers_now_ms() + (uint64_t)timeout_ms,
		   wait_on_deadline, w);
}

long wait_count_sleeping(void)
{
	return atomic_load(&sleeping_now);
}
