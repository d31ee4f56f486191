/* The IoT Hub twin query language, parsed and compiled to SQL over the
 * twins table. Pure: no libmicrohttpd, no libpq. Every literal and every
 * path segment leaves as a bind parameter ($1, $2 ...); the SQL text holds
 * only fixed fragments and parameter numbers. See docs/twins.md. */
#ifndef ORCHARD_TWINQ_H
#define ORCHARD_TWINQ_H
#include <stddef.h>

/* Limits on what a query may ask for. */
#define TWINQ_TEXT_MAX 8192   /* bytes of query text */
#define TWINQ_DEPTH_MAX 32    /* nesting of parentheses and NOT */
#define TWINQ_PARAMS_MAX 512  /* bind parameters a query may need */
#define TWINQ_PATH_MAX 12     /* segments in one path (twin depth 10 + root) */
#define TWINQ_STRING_MAX 4096 /* bytes of one string literal */
#define TWINQ_COLS_MAX 32     /* projections */

/* What the rows of a compiled query are. */
enum twinq_kind {
	TWINQ_TWINS,	 /* SELECT *: whole twins, columns as store_twin */
	TWINQ_PROJECT,	 /* device_id, then one jsonb text per column (NULL: undefined) */
	TWINQ_AGGREGATE, /* one text per column: jsonb text for paths, a count */
};

struct twinq_col {
	char *name;   /* the member name in each result object */
	int is_count; /* COUNT(): an integer, not JSON text */
};

struct twinq {
	enum twinq_kind kind;
	long long top;		/* TOP n, or -1 */
	struct twinq_col *cols; /* PROJECT and AGGREGATE: the output columns */
	size_t ncols;
	char *select_sql; /* PROJECT: the columns after device_id; AGGREGATE: all */
	char *where_sql;  /* a boolean expression; "TRUE" without WHERE */
	char *group_sql;  /* AGGREGATE with GROUP BY: "1, 2"; else NULL */
	char *order_sql;  /* ORDER BY's path as a jsonb expression; NULL: device ID order */
	int order_desc;	  /* ORDER BY ... DESC (undefined values sort last either way) */
	char **params;	  /* text values of $1..$nparams */
	size_t nparams;
};

/* Why a query was refused: the byte offset where it went wrong. */
struct twinq_error {
	size_t pos;
	int too_complex; /* a limit, not the syntax */
	char msg[160];
};

/* Parses a whole query (SELECT ... FROM devices ...) into *out (zeroed
 * first). Returns 0, or -1 with *err filled and *out empty (also when out
 * of memory: then err->msg says so). twinq_free() either way. */
int twinq_compile(const char *text, struct twinq *out, struct twinq_error *err);

/* Parses a condition alone (a configuration's targetCondition, or a
 * WHERE clause) into out->where_sql and its parameters; out->kind is
 * TWINQ_TWINS. Same contract as twinq_compile(). */
int twinq_compile_condition(const char *text, struct twinq *out, struct twinq_error *err);

/* As twinq_compile_condition, with the parameters numbered from base + 1
 * ($4, $5 ... for base 3), so several conditions share one statement. */
int twinq_compile_condition_from(const char *text, size_t base, struct twinq *out,
				 struct twinq_error *err);

/* Frees what a compile filled and zeroes *q; NULL-safe. */
void twinq_free(struct twinq *q);

#endif
