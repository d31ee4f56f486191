/* Reading compiled-form rows (DEPOT_COMPILED_COLS) and freeing them. */
#include <stdlib.h>
#include <string.h>

#include "server/store/pg_depot_compiled_rows.h"

void store_depot_compiled_free(struct store_depot_compiled *r)
{
	if (r == NULL)
		return;
	free(r->module_sha256);
	free(r->target);
	free(r->state);
	free(r->compiler);
	free(r->cwasm_sha256);
	free(r->statement);
	free(r->signature);
	free(r->key_id);
	free(r->error);
	memset(r, 0, sizeof *r);
}

int pg_depot_compiled_row(const PGresult *res, int i, struct store_depot_compiled *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->module_sha256 = store_value_dup(res, i, 0, &ok);
	out->target = store_value_dup(res, i, 1, &ok);
	out->state = store_value_dup(res, i, 2, &ok);
	out->compiler = store_value_dup(res, i, 3, &ok);
	out->cwasm_sha256 = store_value_dup(res, i, 4, &ok);
	out->statement = store_value_dup(res, i, 5, &ok);
	out->signature = store_value_dup(res, i, 6, &ok);
	out->key_id = store_value_dup(res, i, 7, &ok);
	out->error = store_value_dup(res, i, 8, &ok);
	out->size = store_value_ll(res, i, 9);
	out->updated_at = store_value_ll(res, i, 10);
	if (!ok)
		store_depot_compiled_free(out);
	return ok ? 0 : -1;
}
