/* Every compiled form of a module, by target (records, not bytes). */
#include <stdlib.h>
#include <string.h>

#include "server/store/pg_depot_compiled_rows.h"

enum store_qs store_select_depot_compiled_list(struct store_conn *c, const char *module_sha256,
					       struct store_depot_compiled **out, size_t *n)
{
	static struct store_stmt st = {"select_depot_compiled_list",
				       "SELECT " DEPOT_COMPILED_COLS " FROM depot_compiled"
				       " WHERE module_sha256 = $1 ORDER BY target",
				       0};
	const char *p[] = {module_sha256};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int rows = qs >= 0 ? PQntuples(res) : 0;

	*out = NULL;
	*n = 0;
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof **out)) == NULL)
		qs = STORE_HARD;
	for (int i = 0; *out != NULL && i < rows; i++) {
		if (pg_depot_compiled_row(res, i, &(*out)[i]) != 0) {
			for (size_t k = 0; k < *n; k++)
				store_depot_compiled_free(&(*out)[k]);
			free(*out);
			*out = NULL;
			*n = 0;
			qs = STORE_HARD;
			break;
		}
		(*n)++;
	}
	PQclear(res);
	return qs;
}
