/* Every publisher, by name. */
#include <stdlib.h>

#include "server/store/pg_depot_rows.h"

enum store_qs store_select_depot_publishers(struct store_conn *c,
					    struct store_depot_publisher **out, size_t *n)
{
	static struct store_stmt st = {"select_depot_publishers",
				       "SELECT " DEPOT_PUBLISHER_COLS
				       " FROM depot_publishers p ORDER BY p.name LIMIT 1000",
				       0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);
	int rows = qs > 0 ? PQntuples(res) : 0;

	*out = NULL;
	*n = 0;
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof **out)) == NULL)
		qs = STORE_HARD;
	for (int i = 0; *out != NULL && i < rows; i++, (*n)++)
		if (pg_depot_publisher_row(res, i, &(*out)[i]) != 0) {
			qs = STORE_HARD;
			break;
		}
	PQclear(res);
	return qs;
}
