/* What only files in server/store/ see: libpq, named statements, and the
 * deadline-bound exec helpers the pg_*.c query files are built on. */
#ifndef ORCHARD_STORE_PG_H
#define ORCHARD_STORE_PG_H
#include <libpq-fe.h>
#include <stdint.h>

#include "common/buf.h"
#include "server/store/store.h"

/* A named SQL statement. Declare one static instance per query; its id is
 * assigned on first use, and it is prepared once per connection. */
struct store_stmt {
	const char *name;
	const char *sql;
	int id; /* 0 until first use */
};

/* Timestamps leave the database as whole seconds since the epoch. */
#define STORE_EPOCH(col) "extract(epoch from " col ")::bigint"

/* Milliseconds on the monotonic clock, for deadlines. */
int64_t store_now_ms(void);

/* Connects with orchardd's settings (application_name, quiet notices,
 * a server-side statement_timeout when statement_timeout_ms > 0), giving up
 * at deadline (store_now_ms() time). The connection is in nonblocking mode.
 * Returns NULL on failure after logging (rate-limited). */
PGconn *store_connect_until(const char *url, int64_t deadline, int statement_timeout_ms);

/* Sends sql or, when stmt_name is set, the prepared statement, with
 * nparams text parameters, and reads every result until
 * deadline. Returns the last result (caller PQclears; check its status),
 * NULL when the connection broke, or NULL with *timed_out set when the
 * deadline passed (then the connection is unusable: drop it). */
PGresult *store_pg_exec(PGconn *pg, const char *sql, const char *stmt_name, int nparams,
			const char *const *params, int64_t deadline, int *timed_out);

/* Runs stmt on c with nparams text parameters (NULL = SQL NULL) before
 * c's deadline. Returns the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK)
 * for the caller to PQclear with *qs its row count, or NULL with *qs set
 * to an error status (STORE_CONFLICT for a unique violation). */
PGresult *store_exec(struct store_conn *c, struct store_stmt *stmt, int nparams,
		     const char *const *params, enum store_qs *qs);

/* Runs plain SQL without parameters (BEGIN, COMMIT...). Returns STORE_NONE
 * or an error status. */
enum store_qs store_exec_simple(struct store_conn *c, const char *sql);

/* As store_exec for SQL built at run time (the compiled twin queries):
 * an unnamed statement, planned for these parameter values. The SQL must
 * hold no value: every one goes in params. */
PGresult *store_exec_dynamic(struct store_conn *c, const char *sql, int nparams,
			     const char *const *params, enum store_qs *qs);

/* Runs stmt and frees the result: for statements whose rows nobody reads. */
enum store_qs store_exec_void(struct store_conn *c, struct store_stmt *stmt, int nparams,
			      const char *const *params);

/* Binary parameters (bytea bytes): per parameter its length and format
 * (1 binary, 0 text); NULL arrays mean all text. */
struct store_bin {
	const int *lengths;
	const int *formats;
};

/* store_pg_exec with binary parameters and, when result_binary is 1,
 * every result column in binary format (a bytea column is then its raw
 * bytes, PQgetlength long). */
PGresult *store_pg_exec_bin(PGconn *pg, const char *sql, const char *stmt_name, int nparams,
			    const char *const *params, const struct store_bin *bin,
			    int result_binary, int64_t deadline, int *timed_out);

/* store_exec with binary parameters and results, as store_pg_exec_bin. */
PGresult *store_exec_bin(struct store_conn *c, struct store_stmt *stmt, int nparams,
			 const char *const *params, const struct store_bin *bin, int result_binary,
			 enum store_qs *qs);

/* A copy of row/col of res (NULL for SQL NULL); *ok cleared when out of
 * memory. */
char *store_value_dup(const PGresult *res, int row, int col, int *ok);

/* A copy of the binary-format value at row/col (bytea's raw bytes) into
 * *data (malloc'd, never NULL on success) and *len: 0, or -1 out of memory. */
int store_bytes_dup(const PGresult *res, int row, int col, uint8_t **data, size_t *len);

/* A bigint column as long long (0 for NULL). */
long long store_value_ll(const PGresult *res, int row, int col);

/* Array literals for batched statements (server/store/pg_array.c):
 * store_array_add appends one element (NULL: SQL NULL) to b, started
 * empty; store_array_end closes it and returns the text, or NULL when
 * out of memory (so did any failed add: check its result, nonzero). */
int store_array_add(struct buf *b, const char *v);
const char *store_array_end(struct buf *b);

/* 1 when applied (rows of version, checksum) holds every built-in
 * migration with its checksum, else 0. */
int migrate_applied_current(const PGresult *applied);

#endif
