/* Running a compiled twin query (server/twinq.h): one page of rows. */
#ifndef ORCHARD_STORE_TWIN_QUERY_H
#define ORCHARD_STORE_TWIN_QUERY_H
#include <stddef.h>

#include "server/store/store.h"
#include "server/store/twins.h"
#include "server/twinq.h"

/* One page. TWINQ_TWINS fills twins; the other kinds fill cells, ncols a
 * row (PROJECT: device_id first, then each column's jsonb text;
 * AGGREGATE: each column, jsonb text or a count), NULL for SQL NULL. */
struct store_twin_page {
	size_t n, ncols;
	struct store_twin *twins;
	char **cells;
	char **keys; /* ORDER BY queries: each row's sort key, jsonb text (NULL: undefined) */
};
void store_twin_page_free(struct store_twin_page *pg);

/* Where a page starts: strictly after the row with this device ID and,
 * for an ORDER BY query, this sort key (jsonb text; NULL: undefined). */
struct store_twin_after {
	const char *device_id;
	const char *key;
};

/* Runs q: rows after `after` (NULL: from the first) in q's order (its
 * ORDER BY path's value, undefined last, then device ID; or device ID
 * alone), at most limit of them (AGGREGATE: group order, no `after`).
 * *out is zeroed first and owned by the caller. */
enum store_qs store_select_twin_query(struct store_conn *c, const struct twinq *q,
				      const struct store_twin_after *after, long long limit,
				      struct store_twin_page *out);

#endif
