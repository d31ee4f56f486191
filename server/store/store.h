/* What handlers see of the storage layer: a pool of connection handles,
 * the transaction runner and status codes. libpq stays inside store/. */
#ifndef ORCHARD_STORE_H
#define ORCHARD_STORE_H
#include <stdint.h>

/* Query status, as Taler's: errors < 0 rows < n rows. */
enum store_qs {
	STORE_CONFLICT = -3, /* unique violation: a 409, never retried */
	STORE_HARD = -2,     /* unreachable, past its deadline, or our bug: 503 */
	STORE_SOFT = -1,     /* serialization failure or deadlock: retry */
	STORE_NONE = 0,	     /* success, no rows */
	STORE_ONE = 1,	     /* success, one row (or more: the row count) */
};

/* Every query has a deadline of this many milliseconds unless the pool
 * was created with another. */
#define STORE_DEADLINE_MS 5000

struct store;
/* A connection handle: all queries given the same handle share its
 * session, and inside store_run_txn its transaction. */
struct store_conn;

struct store_stats {
	int size;
	int in_use;
	uint64_t waits;	   /* acquisitions that had to wait */
	uint64_t timeouts; /* acquisitions that gave up */
	uint64_t reconnects;
	uint64_t deadlines; /* statements or connects cut off at their deadline */
};

/* Creates a pool of size connections to url; connects lazily. Every
 * connect and statement gets deadline_ms (0: STORE_DEADLINE_MS). Returns
 * NULL when out of memory. */
struct store *store_new(const char *url, int size, int deadline_ms);
void store_free(struct store *s);

/* Takes a connected handle, waiting up to timeout_ms for a free one; its
 * statements must all finish within the pool's deadline from now. Returns
 * NULL when none is free in time, the database is unreachable or known
 * to hang (then at once): the caller answers 503. Give it back with
 * store_release(), which accepts NULL. */
struct store_conn *store_acquire(struct store *s, int timeout_ms);
void store_release(struct store *s, struct store_conn *c);

typedef enum store_qs (*store_txn_cb)(struct store_conn *c, void *cls);

/* Runs cb inside BEGIN/COMMIT on one handle, retrying the whole
 * transaction up to 3 times on STORE_SOFT (cb must then be safe to call
 * again). On a negative result of cb the transaction is rolled back and
 * that result returned; a failed COMMIT returns its own status. */
enum store_qs store_run_txn(struct store *s, store_txn_cb cb, void *cls);

/* Runs cb once on a pooled handle without BEGIN: for callers of a single
 * statement, which commits by itself. */
enum store_qs store_run(struct store *s, store_txn_cb cb, void *cls);

/* 1 when the database answers and every built-in migration is applied,
 * 0 when it answers but migrations are missing, -1 when it cannot be
 * asked in time. */
int store_check_ready(struct store *s);

void store_get_stats(struct store *s, struct store_stats *out);

#endif
