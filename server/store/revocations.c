/* Revoked token IDs in memory. The event hub tells of each revocation (and
 * of a reconnect that may have missed some); a thread with its own
 * connection then reloads the whole (small: unexpired revocations only)
 * set, and does so every 30 s as a safety net. Reloading is a query, which
 * must not run on the hub's thread, hence the thread. What is
 * unexpired is judged by this host's clock, the one auth checks exp with:
 * by the database's now(), a clock ahead of ours would drop revocations of
 * tokens we still accept. Every statement has the store's deadline. */
#include "server/store/revocations.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

/* Revocations are kept a while past exp: harmless, and the set then never
 * depends on which second a reload and a check each read the clock. */
#define REVOCATIONS_SKEW_MARGIN 300

#define REVOCATIONS_RELOAD_MS 30000

struct revocations {
	char *url;
	int deadline_ms;
	struct events *hub;
	struct event_sub sub;
	pthread_t thread;
	pthread_mutex_t mu; /* guards the two flags, with cv */
	pthread_cond_t cv;
	bool stale, stop;
	pthread_rwlock_t lock;
	char **jtis; /* sorted */
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_free(char **jtis, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(jtis[i]);
	free(jtis);
}

/* Replaces the set with the database's; returns 0 or -1. */
static int revocations_reload(struct revocations *r, PGconn *pg)
{
	char since[24];
	const char *p[] = {since};
	int timed_out;
	PGresult *res;
	char **jtis = NULL, **old;
	size_t n = 0, oldn;
	int rc = -1;

	snprintf(since, sizeof since, "%lld", (long long)time(NULL) - REVOCATIONS_SKEW_MARGIN);
	res = store_pg_exec(pg,
			    "SELECT jti FROM operator_tokens"
			    " WHERE revoked_at IS NOT NULL AND expires_at > to_timestamp($1)",
			    NULL, 1, p, store_now_ms() + r->deadline_ms, &timed_out);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	n = (size_t)PQntuples(res);
	jtis = calloc(n ? n : 1, sizeof *jtis);
	if (jtis == NULL) {
		n = 0;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((jtis[i] = strdup(PQgetvalue(res, (int)i, 0))) == NULL)
			goto out;
	qsort(jtis, n, sizeof *jtis, cmp_str);
	pthread_rwlock_wrlock(&r->lock);
	old = r->jtis;
	oldn = r->n;
	r->jtis = jtis;
	r->n = n;
	pthread_rwlock_unlock(&r->lock);
	jtis = old;
	n = oldn;
	rc = 0;
out:
	set_free(jtis, n);
	PQclear(res);
	return rc;
}

/* On the hub's thread: a revocation, or a reconnect (NULL). */
static void revocations_on_event(void *cls, const char *payload)
{
	struct revocations *r = cls;

	(void)payload;
	pthread_mutex_lock(&r->mu);
	r->stale = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void *revocations_main(void *arg)
{
	struct revocations *r = arg;
	PGconn *pg = NULL;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		if (!r->stale) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += REVOCATIONS_RELOAD_MS / 1000;
			if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0 && !r->stale)
				continue; /* woken to stop, or spuriously */
		}
		r->stale = false;
		pthread_mutex_unlock(&r->mu);
		if (pg == NULL)
			pg = store_connect_until(r->url, store_now_ms() + r->deadline_ms,
						 r->deadline_ms);
		if (pg == NULL || revocations_reload(r, pg) != 0) {
			PQfinish(pg);
			pg = NULL;
			pthread_mutex_lock(&r->mu);
			r->stale = true; /* try again in a second */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			if (!r->stop)
				pthread_cond_timedwait(&r->cv, &r->mu, &ts);
			continue;
		}
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	PQfinish(pg);
	return NULL;
}

/* Frees r and everything it holds; the thread must not be running. */
static void revocations_release(struct revocations *r)
{
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	set_free(r->jtis, r->n);
	pthread_rwlock_destroy(&r->lock);
	free(r->url);
	free(r);
}

struct revocations *revocations_start(const char *url, int deadline_ms, struct events *hub)
{
	struct revocations *r = calloc(1, sizeof *r);
	PGconn *pg = NULL;
	pthread_condattr_t ca;

	if (r == NULL)
		return NULL;
	r->deadline_ms = deadline_ms > 0 ? deadline_ms : STORE_DEADLINE_MS;
	r->hub = hub;
	pthread_rwlock_init(&r->lock, NULL);
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->url = strdup(url);
	if (r->url == NULL)
		goto fail;
	/* Load once before serving: a token must never pass because the
	 * set was not there yet. */
	pg = store_connect_until(url, store_now_ms() + r->deadline_ms, r->deadline_ms);
	if (pg == NULL || revocations_reload(r, pg) != 0)
		goto fail;
	PQfinish(pg);
	pg = NULL;
	if (pthread_create(&r->thread, NULL, revocations_main, r) != 0)
		goto fail;
	/* Anything revoked since that load reaches us as an event, or as the
	 * hub's reconnect signal once it is listening. */
	events_subscribe(hub, &r->sub, EVENTS_TOKEN_REVOKED, "", revocations_on_event, r);
	return r;
fail:
	PQfinish(pg);
	revocations_release(r);
	return NULL;
}

void revocations_stop(struct revocations *r)
{
	if (r == NULL)
		return;
	events_unsubscribe(r->hub, &r->sub);
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	revocations_release(r);
}

bool revocations_contains(struct revocations *r, const char *jti)
{
	bool found;

	pthread_rwlock_rdlock(&r->lock);
	found = bsearch(&jti, r->jtis, r->n, sizeof *r->jtis, cmp_str) != NULL;
	pthread_rwlock_unlock(&r->lock);
	return found;
}
