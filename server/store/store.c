/* Connection pool with deadlines. A connection found broken bumps the
 * pool's generation, so every other idle connection reconnects before its
 * next use (Taler's idea); one that misses its deadline opens a breaker, so
 * a hung database costs each later request nothing until a probe passes. */
#include "server/store/store_pg.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define MAX_STMTS 256
/* While the breaker is open, one request at most every this many ms
 * tries the database again. */
#define STORE_PROBE_MS 1000

struct store_conn {
	struct store *owner;
	PGconn *pg;
	unsigned generation;
	int64_t deadline; /* store_now_ms() time its statements must end by */
	bool probe;	  /* this handle tests whether the database is back */
	uint64_t prepared[MAX_STMTS / 64];
};

struct store {
	char *url;
	int size;
	int deadline_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_conn *conns;
	struct store_conn **idle; /* stack of free connections */
	int nidle;
	atomic_uint generation;
	atomic_llong down_until; /* breaker: 0 closed, else when to probe */
	atomic_int probing;
	atomic_uint_fast64_t waits, timeouts, reconnects, deadlines;
};

static atomic_int next_stmt_id = 1;

struct store *store_new(const char *url, int size, int deadline_ms)
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
	s->deadline_ms = deadline_ms > 0 ? deadline_ms : STORE_DEADLINE_MS;
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

/* A deadline passed: this connection may sit behind a hung server, and so
 * may its peers. Cancelling is left to the server's own statement_timeout:
 * libpq 15's PQcancel waits for the postmaster's reply without a timeout,
 * the very hang we are escaping. */
static void conn_deadline_passed(struct store_conn *c, const char *what)
{
	struct store *s = c->owner;
	static atomic_llong last_logged;
	long long now = store_now_ms(), last = atomic_load(&last_logged);

	conn_drop(c);
	atomic_fetch_add(&s->deadlines, 1);
	atomic_fetch_add(&s->generation, 1);
	atomic_store(&s->down_until, now + STORE_PROBE_MS);
	if (now - last >= 5000 && atomic_compare_exchange_strong(&last_logged, &last, now))
		log_kv(LOG_WARN, "database missed a deadline; answering 503 until it is back",
		       "statement", what, NULL);
}

/* The breaker: false when the database is known to hang and it is not this
 * caller's turn to probe it. */
static bool breaker_allows(struct store *s, bool *probe)
{
	long long until = atomic_load(&s->down_until);
	int idle = 0;

	*probe = false;
	if (until == 0)
		return true;
	if (store_now_ms() < until || !atomic_compare_exchange_strong(&s->probing, &idle, 1))
		return false;
	*probe = true;
	return true;
}

/* Ends a probe: a success closes the breaker, a failure waits again. */
static void breaker_probe_done(struct store_conn *c, bool ok)
{
	struct store *s = c->owner;

	if (!c->probe)
		return;
	c->probe = false;
	if (ok)
		atomic_store(&s->down_until, 0);
	else
		atomic_store(&s->down_until, store_now_ms() + STORE_PROBE_MS);
	atomic_store(&s->probing, 0);
}

static void deadline_to_timespec(int timeout_ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Takes an idle connection or NULL after timeout_ms. */
static struct store_conn *pool_take(struct store *s, int timeout_ms)
{
	struct store_conn *c = NULL;
	struct timespec until;

	deadline_to_timespec(timeout_ms, &until);
	pthread_mutex_lock(&s->mu);
	if (s->nidle == 0)
		atomic_fetch_add(&s->waits, 1);
	while (s->nidle == 0)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT && s->nidle == 0)
			break;
	if (s->nidle > 0)
		c = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->mu);
	if (c == NULL)
		atomic_fetch_add(&s->timeouts, 1);
	return c;
}

struct store_conn *store_acquire(struct store *s, int timeout_ms)
{
	int64_t start = store_now_ms();
	struct store_conn *c;
	bool probe;

	if (!breaker_allows(s, &probe))
		return NULL;
	if (timeout_ms > s->deadline_ms)
		timeout_ms = s->deadline_ms;
	c = pool_take(s, timeout_ms);
	if (c == NULL) {
		if (probe)
			atomic_store(&s->probing, 0);
		return NULL;
	}
	c->probe = probe;
	c->deadline = start + s->deadline_ms;
	unsigned gen = atomic_load(&s->generation);
	if (c->pg != NULL && (c->generation != gen || PQstatus(c->pg) != CONNECTION_OK))
		conn_drop(c);
	if (c->pg == NULL) {
		atomic_fetch_add(&s->reconnects, 1);
		/* The server cancels a statement stuck behind a lock a little
		 * before our deadline, so a slow but living database answers
		 * (a 503 for that request alone) and the connection stays
		 * usable; only a database that does not answer at all misses
		 * the deadline and opens the breaker. */
		int margin = s->deadline_ms / 5 < 1000 ? s->deadline_ms / 5 : 1000;
		c->pg = store_connect_until(s->url, c->deadline, s->deadline_ms - margin);
		c->generation = gen;
		if (c->pg == NULL) {
			if (store_now_ms() >= c->deadline)
				conn_deadline_passed(c, "connect");
			store_release(s, c);
			return NULL;
		}
	}
	return c;
}

void store_release(struct store *s, struct store_conn *c)
{
	if (c == NULL)
		return;
	breaker_probe_done(c, c->pg != NULL);
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
	else if (state != NULL && strcmp(state, "23505") == 0)
		qs = STORE_CONFLICT;
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

/* Runs sql or the prepared statement named; NULL with *qs on failure. */
static PGresult *conn_exec(struct store_conn *c, const char *sql, const char *name, int nparams,
			   const char *const *params, const struct store_bin *bin,
			   int result_binary, enum store_qs *qs)
{
	int timed_out = 0;
	PGresult *res;

	if (c->pg == NULL) {
		*qs = STORE_HARD;
		return NULL;
	}
	res = store_pg_exec_bin(c->pg, sql, name, nparams, params, bin, result_binary, c->deadline,
				&timed_out);
	if (timed_out) {
		PQclear(res);
		conn_deadline_passed(c, name ? name : sql);
		*qs = STORE_HARD;
		return NULL;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		*qs = conn_fail(c, res, name ? name : sql);
		return NULL;
	}
	breaker_probe_done(c, true);
	*qs = PQntuples(res) > 0 ? (enum store_qs)PQntuples(res) : STORE_NONE;
	return res;
}

PGresult *store_exec(struct store_conn *c, struct store_stmt *stmt, int nparams,
		     const char *const *params, enum store_qs *qs)
{
	return store_exec_bin(c, stmt, nparams, params, NULL, 0, qs);
}

PGresult *store_exec_bin(struct store_conn *c, struct store_stmt *stmt, int nparams,
			 const char *const *params, const struct store_bin *bin, int result_binary,
			 enum store_qs *qs)
{
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
		int timed_out = 0;
		PGresult *res = NULL;
		if (PQsendPrepare(c->pg, stmt->name, stmt->sql, 0, NULL) == 1)
			res = store_pg_exec(c->pg, NULL, NULL, 0, NULL, c->deadline, &timed_out);
		if (timed_out) {
			PQclear(res);
			conn_deadline_passed(c, stmt->name);
			*qs = STORE_HARD;
			return NULL;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			*qs = conn_fail(c, res, stmt->name);
			return NULL;
		}
		PQclear(res);
		c->prepared[id / 64] |= (uint64_t)1 << (id % 64);
	}
	return conn_exec(c, NULL, stmt->name, nparams, params, bin, result_binary, qs);
}

enum store_qs store_exec_simple(struct store_conn *c, const char *sql)
{
	enum store_qs qs;

	if (c->pg == NULL)
		return STORE_HARD;
	PQclear(conn_exec(c, sql, NULL, 0, NULL, NULL, 0, &qs));
	return qs < 0 ? qs : STORE_NONE;
}

PGresult *store_exec_dynamic(struct store_conn *c, const char *sql, int nparams,
			     const char *const *params, enum store_qs *qs)
{
	return conn_exec(c, sql, NULL, nparams, params, NULL, 0, qs);
}

enum store_qs store_exec_void(struct store_conn *c, struct store_stmt *stmt, int nparams,
			      const char *const *params)
{
	enum store_qs qs;

	PQclear(store_exec(c, stmt, nparams, params, &qs));
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
	out->deadlines = atomic_load(&s->deadlines);
}
