/* Connection pool. A connection found broken bumps the pool's generation,
 * so every other idle connection reconnects before its next use instead of
 * failing one request each after a PostgreSQL restart (Taler's idea). */
#include "server/store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define MAX_STMTS 256
#define STORE_STATEMENT_TIMEOUT "'5s'"

struct store_conn {
	struct store *owner;
	PGconn *pg;
	unsigned generation;
	uint64_t prepared[MAX_STMTS / 64];
};

struct store {
	char *url;
	int size;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_conn *conns;
	struct store_conn **idle; /* stack of free connections */
	int nidle;
	atomic_uint generation;
	atomic_uint_fast64_t waits, timeouts, reconnects;
};

static atomic_int next_stmt_id = 1;

PGconn *store_connect(const char *url)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
	const char *vals[] = {url, "3", "orchardd", "-c client_min_messages=warning", NULL};
	PGconn *pg = PQconnectdbParams(keys, vals, 1);

	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		/* During an outage every request tries to reconnect: one line
		 * every 5 s says it all. PQerrorMessage holds no password. */
		static atomic_long last_logged;
		long now = (long)time(NULL), last = atomic_load(&last_logged);
		if (now - last >= 5 && atomic_compare_exchange_strong(&last_logged, &last, now)) {
			const char *why = pg ? PQerrorMessage(pg) : "out of memory";
			char msg[256];
			size_t n = strcspn(why, "\n");
			snprintf(msg, sizeof msg, "%.*s", (int)(n < 200 ? n : 200), why);
			log_kv(LOG_WARN, "database connect failed (repeats are muted for 5 s)",
			       "error", msg, NULL);
		}
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

struct store *store_new(const char *url, int size)
{
	struct store *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->url = strdup(url);
	s->conns = calloc((size_t)size, sizeof *s->conns);
	s->idle = calloc((size_t)size, sizeof *s->idle);
	if (s->url == NULL || s->conns == NULL || s->idle == NULL) {
		store_free(s);
		return NULL;
	}
	s->size = size;
	for (int i = 0; i < size; i++) {
		s->conns[i].owner = s;
		s->idle[s->nidle++] = &s->conns[i];
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	atomic_init(&s->generation, 1);
	return s;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	if (s->conns != NULL) {
		for (int i = 0; i < s->size; i++)
			PQfinish(s->conns[i].pg);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	free(s->conns);
	free(s->idle);
	free(s->url);
	free(s);
}

static void conn_drop(struct store_conn *c)
{
	PQfinish(c->pg);
	c->pg = NULL;
	memset(c->prepared, 0, sizeof c->prepared);
}

struct store_conn *store_acquire(struct store *s, int timeout_ms)
{
	struct store_conn *c = NULL;
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->mu);
	if (s->nidle == 0)
		atomic_fetch_add(&s->waits, 1);
	while (s->nidle == 0) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT &&
		    s->nidle == 0) {
			pthread_mutex_unlock(&s->mu);
			atomic_fetch_add(&s->timeouts, 1);
			return NULL;
		}
	}
	c = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->mu);

	unsigned gen = atomic_load(&s->generation);
	if (c->pg != NULL && (c->generation != gen || PQstatus(c->pg) != CONNECTION_OK))
		conn_drop(c);
	if (c->pg == NULL) {
		atomic_fetch_add(&s->reconnects, 1);
		c->pg = store_connect(s->url);
		c->generation = gen;
		/* A statement stuck behind a lock would hold its HTTP worker
		 * forever (and SIGTERM with it): cancelled, it is a 503. Only
		 * the pool: migrations wait for their advisory lock at will. */
		if (c->pg != NULL &&
		    store_exec_simple(c, "SET statement_timeout = " STORE_STATEMENT_TIMEOUT) < 0)
			conn_drop(c);
		if (c->pg == NULL) {
			store_release(s, c);
			return NULL;
		}
	}
	return c;
}

void store_release(struct store *s, struct store_conn *c)
{
	/* A connection left inside a transaction (a bug or a failed COMMIT)
	 * must not carry its state into the next request. */
	if (c->pg != NULL && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		conn_drop(c);
	pthread_mutex_lock(&s->mu);
	s->idle[s->nidle++] = c;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Classifies a failed result; a dead connection invalidates its peers. */
static enum store_qs conn_fail(struct store_conn *c, PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	enum store_qs qs = STORE_HARD;

	if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
		qs = STORE_SOFT;
	else
		log_kv(LOG_ERROR, "database statement failed", "statement", what, "sqlstate",
		       state ? state : "none", NULL);
	PQclear(res);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		conn_drop(c);
		atomic_fetch_add(&c->owner->generation, 1);
	}
	return qs;
}

PGresult *store_exec(struct store_conn *c, struct store_stmt *stmt, int nparams,
		     const char *const *params, enum store_qs *qs)
{
	PGresult *res;
	int id = __atomic_load_n(&stmt->id, __ATOMIC_ACQUIRE);

	if (id == 0) {
		int fresh = atomic_fetch_add(&next_stmt_id, 1), expect = 0;
		if (!__atomic_compare_exchange_n(&stmt->id, &expect, fresh, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			fresh = expect;
		id = fresh;
	}
	if (id >= MAX_STMTS || c->pg == NULL) {
		log_bug("statement table full or connection gone");
		*qs = STORE_HARD;
		return NULL;
	}
	if (!(c->prepared[id / 64] >> (id % 64) & 1)) {
		res = PQprepare(c->pg, stmt->name, stmt->sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			*qs = conn_fail(c, res, stmt->name);
			return NULL;
		}
		PQclear(res);
		c->prepared[id / 64] |= (uint64_t)1 << (id % 64);
	}
	res = PQexecPrepared(c->pg, stmt->name, nparams, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		*qs = conn_fail(c, res, stmt->name);
		return NULL;
	}
	*qs = PQntuples(res) > 0 ? (enum store_qs)PQntuples(res) : STORE_NONE;
	return res;
}

enum store_qs store_exec_simple(struct store_conn *c, const char *sql)
{
	PGresult *res = PQexec(c->pg, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		return conn_fail(c, res, sql);
	PQclear(res);
	return STORE_NONE;
}

enum store_qs store_run_txn(struct store *s, enum store_qs (*cb)(struct store_conn *, void *),
			    void *cls)
{
	enum store_qs qs = STORE_HARD;

	for (int attempt = 0; attempt < 3; attempt++) {
		struct store_conn *c = store_acquire(s, 2000);
		if (c == NULL)
			return STORE_HARD;
		qs = store_exec_simple(c, "BEGIN");
		if (qs == STORE_NONE) {
			qs = cb(c, cls);
			if (qs >= 0) {
				enum store_qs cq = store_exec_simple(c, "COMMIT");
				if (cq < 0)
					qs = cq;
			} else if (c->pg != NULL) {
				store_exec_simple(c, "ROLLBACK");
			}
		}
		store_release(s, c);
		if (qs != STORE_SOFT)
			break;
	}
	return qs;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->mu);
	out->size = s->size;
	out->in_use = s->size - s->nidle;
	pthread_mutex_unlock(&s->mu);
	out->waits = atomic_load(&s->waits);
	out->timeouts = atomic_load(&s->timeouts);
	out->reconnects = atomic_load(&s->reconnects);
}

PGconn *store_conn_pg(struct store_conn *c)
{
	return c->pg;
}
