/* The storage layer's core: a bounded, thread-safe pool of libpq
 * connections with statements prepared on first use per connection. */
#ifndef ORCHARD_STORE_H
#define ORCHARD_STORE_H
#include <libpq-fe.h>
#include <stdint.h>

/* Query status, as Taler's: hard error < soft error (retry) < rows. */
enum store_qs {
	STORE_HARD = -2, /* database unreachable or our bug: 503/500 */
	STORE_SOFT = -1, /* serialization failure or deadlock: retry */
	STORE_NONE = 0,	 /* success, no rows */
	STORE_ONE = 1,	 /* success, one row (or more: the row count) */
};

/* A named SQL statement. Declare one static instance per query file; its
 * id is assigned on first use, and it is prepared once per connection. */
struct store_stmt {
	const char *name;
	const char *sql;
	int id; /* 0 until first use */
};

struct store;
struct store_conn;

struct store_stats {
	int size;
	int in_use;
	uint64_t waits;	   /* acquisitions that had to wait */
	uint64_t timeouts; /* acquisitions that gave up */
	uint64_t reconnects;
};

/* Creates a pool of size connections to url; connects lazily. Returns NULL
 * when out of memory. */
struct store *store_new(const char *url, int size);
void store_free(struct store *s);

/* Takes a connected connection, waiting up to timeout_ms for a free one.
 * Returns NULL when none is free in time or the database is unreachable:
 * the caller answers 503. Give it back with store_release(). */
struct store_conn *store_acquire(struct store *s, int timeout_ms);
void store_release(struct store *s, struct store_conn *c);

/* Runs stmt with nparams text parameters (NULL = SQL NULL). Returns the
 * result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) for the caller to PQclear,
 * or NULL with *qs set to STORE_SOFT or STORE_HARD. */
PGresult *store_exec(struct store_conn *c, struct store_stmt *stmt, int nparams,
		     const char *const *params, enum store_qs *qs);

/* Runs plain SQL without parameters (BEGIN, COMMIT...). Returns STORE_NONE
 * or an error status. */
enum store_qs store_exec_simple(struct store_conn *c, const char *sql);

/* Runs cb inside BEGIN/COMMIT on one connection, retrying the whole
 * transaction up to 3 times on STORE_SOFT. cb returns a store_qs; on any
 * negative result the transaction is rolled back. */
enum store_qs store_run_txn(struct store *s, enum store_qs (*cb)(struct store_conn *, void *),
			    void *cls);

void store_get_stats(struct store *s, struct store_stats *out);

/* The libpq connection behind c, for the few callers that need one. */
PGconn *store_conn_pg(struct store_conn *c);

/* Connects a standalone connection with orchardd's settings (short connect
 * timeout, application_name). Returns NULL on failure after logging. */
PGconn *store_connect(const char *url);

#endif
