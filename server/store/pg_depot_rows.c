/* The depot's row frees, beside the queries that fill the rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/pg_depot_rows.h"

void store_depot_publisher_free(struct store_depot_publisher *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->public_key);
	free(p->key_id);
	free(p->keys_json);
	memset(p, 0, sizeof *p);
}

void store_depot_package_free(struct store_depot_package *p)
{
	if (p == NULL)
		return;
	free(p->publisher);
	free(p->name);
	free(p->version);
	free(p->manifest);
	free(p->signature);
	free(p->key_id);
	free(p->module_sha256);
	free(p->published_by);
	memset(p, 0, sizeof *p);
}

int pg_depot_publisher_row(const PGresult *res, int i, struct store_depot_publisher *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->name = store_value_dup(res, i, 0, &ok);
	out->public_key = store_value_dup(res, i, 1, &ok);
	out->key_id = store_value_dup(res, i, 2, &ok);
	out->created_at = store_value_ll(res, i, 3);
	out->updated_at = store_value_ll(res, i, 4);
	out->keys_json = store_value_dup(res, i, 5, &ok);
	if (!ok)
		store_depot_publisher_free(out);
	return ok ? 0 : -1;
}

int pg_depot_package_row(const PGresult *res, int i, struct store_depot_package *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->publisher = store_value_dup(res, i, 0, &ok);
	out->name = store_value_dup(res, i, 1, &ok);
	out->version = store_value_dup(res, i, 2, &ok);
	out->manifest = store_value_dup(res, i, 3, &ok);
	out->signature = store_value_dup(res, i, 4, &ok);
	out->key_id = store_value_dup(res, i, 5, &ok);
	out->module_sha256 = store_value_dup(res, i, 6, &ok);
	out->published_by = store_value_dup(res, i, 7, &ok);
	out->size = store_value_ll(res, i, 8);
	out->published_at = store_value_ll(res, i, 9);
	out->yanked_at = store_value_ll(res, i, 10);
	out->yanked = PQgetvalue(res, i, 11)[0] == 't';
	if (!ok)
		store_depot_package_free(out);
	return ok ? 0 : -1;
}
