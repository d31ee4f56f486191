/* Revoked token IDs in memory. A thread holds its own connection, LISTENs on
 * REVOCATIONS_CHANNEL and reloads the whole (small: unexpired revocations
 * only) set on every notification, and every 30 s as a safety net. */
#include "server/store/revocations.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/store/store.h"

struct revocations {
	char *url;
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
	PGresult *res = PQexec(pg, "SELECT jti FROM operator_tokens"
				   " WHERE revoked_at IS NOT NULL AND expires_at > now()");
	char **jtis = NULL, **old;
	size_t n = 0, oldn;
	int rc = -1;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	n = (size_t)PQntuples(res);
	jtis = calloc(n ? n : 1, sizeof *jtis);
	if (jtis == NULL)
		goto out;
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
	PGconn *pg = store_connect(r->url);
	PGresult *res;

	if (pg == NULL)
		return NULL;
	res = PQexec(pg, "LISTEN " REVOCATIONS_CHANNEL);
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

struct revocations *revocations_start(const char *url)
{
	struct revocations *r = calloc(1, sizeof *r);
	PGconn *pg = NULL;

	if (r == NULL)
		return NULL;
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	pthread_rwlock_init(&r->lock, NULL);
	r->url = strdup(url);
	if (r->url == NULL || pipe(r->stop_pipe) != 0)
		goto fail;
	/* Load once before serving: a token must never pass because the
	 * set was not there yet. */
	pg = store_connect(url);
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
