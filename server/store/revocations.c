/* Revoked token IDs in memory. A thread holds its own connection, LISTENs on
 * REVOCATIONS_CHANNEL and reloads the whole (small: unexpired revocations
 * only) set on every notification, and every 30 s as a safety net. What is
 * unexpired is judged by this host's clock, the one auth checks exp with:
 * by the database's now(), a clock ahead of ours would drop revocations of
 * tokens we still accept. Every statement has the store's deadline. */
#include "server/store/revocations.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "server/store/store_pg.h"

/* Revocations are kept a while past exp: harmless, and the set then never
 * depends on which second a reload and a check each read the clock. */
#define REVOCATIONS_SKEW_MARGIN 300

struct revocations {
	char *url;
	int deadline_ms;
	pthread_t thread;
	int stop_pipe[2];
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

static PGconn *listener_connect(struct revocations *r)
{
	int64_t deadline = store_now_ms() + r->deadline_ms;
	PGconn *pg = store_connect_until(r->url, deadline, r->deadline_ms);
	int timed_out;
	PGresult *res;

	if (pg == NULL)
		return NULL;
	res = store_pg_exec(pg, "LISTEN " REVOCATIONS_CHANNEL, NULL, 0, NULL, deadline, &timed_out);
	if (PQresultStatus(res) != PGRES_COMMAND_OK || revocations_reload(r, pg) != 0) {
		PQclear(res);
		PQfinish(pg);
		return NULL;
	}
	PQclear(res);
	return pg;
}

static void *revocations_main(void *arg)
{
	struct revocations *r = arg;
	PGconn *pg = NULL;

	for (;;) {
		struct pollfd fds[2] = {{r->stop_pipe[0], POLLIN, 0}, {-1, POLLIN, 0}};
		if (pg == NULL)
			pg = listener_connect(r);
		fds[1].fd = pg ? PQsocket(pg) : -1;
		int n = poll(fds, 2, pg ? 30000 : 1000);
		if (n > 0 && (fds[0].revents & POLLIN))
			break;
		if (pg == NULL)
			continue;
		int notified = 0;
		if (n > 0 && PQconsumeInput(pg) == 0) {
			log_kv(LOG_WARN, "revocation listener lost its connection", NULL);
			PQfinish(pg);
			pg = NULL;
			continue;
		}
		for (PGnotify *nt; (nt = PQnotifies(pg)) != NULL; PQfreemem(nt))
			notified = 1;
		if ((notified || n == 0) && revocations_reload(r, pg) != 0) {
			PQfinish(pg);
			pg = NULL;
		}
	}
	PQfinish(pg);
	return NULL;
}

/* Frees r and everything it holds; the thread must not be running. */
static void revocations_release(struct revocations *r)
{
	if (r->stop_pipe[0] >= 0) {
		close(r->stop_pipe[0]);
		close(r->stop_pipe[1]);
	}
	set_free(r->jtis, r->n);
	pthread_rwlock_destroy(&r->lock);
	free(r->url);
	free(r);
}

struct revocations *revocations_start(const char *url, int deadline_ms)
{
	struct revocations *r = calloc(1, sizeof *r);
	PGconn *pg = NULL;

	if (r == NULL)
		return NULL;
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	r->deadline_ms = deadline_ms > 0 ? deadline_ms : STORE_DEADLINE_MS;
	pthread_rwlock_init(&r->lock, NULL);
	r->url = strdup(url);
	if (r->url == NULL || pipe(r->stop_pipe) != 0)
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
	if (write(r->stop_pipe[1], "x", 1) == 1)
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
