/* Reads one fleet configuration, and frees such rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/configs.h"
#include "server/store/store_pg.h"

void store_config_free(struct store_config *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->etag);
	free(c->target_condition);
	free(c->device_content);
	free(c->labels);
	free(c->metric_queries);
	memset(c, 0, sizeof *c);
}

/* The columns every configuration query returns, in this order; shared
 * with pg_select_configs.c. */
#define CONFIG_COLUMNS                                                                             \
	"id, etag, priority, target_condition, device_content::text, labels::text,"                \
	" metric_queries::text, " STORE_EPOCH("created_at") ", " STORE_EPOCH("updated_at")
int config_row_read(const PGresult *res, int row, struct store_config *out);

int config_row_read(const PGresult *res, int row, struct store_config *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->id = store_value_dup(res, row, 0, &ok);
	out->etag = store_value_dup(res, row, 1, &ok);
	out->priority = store_value_ll(res, row, 2);
	out->target_condition = store_value_dup(res, row, 3, &ok);
	out->device_content = store_value_dup(res, row, 4, &ok);
	out->labels = store_value_dup(res, row, 5, &ok);
	out->metric_queries = store_value_dup(res, row, 6, &ok);
	out->created_at = store_value_ll(res, row, 7);
	out->updated_at = store_value_ll(res, row, 8);
	if (!ok)
		store_config_free(out);
	return ok ? 0 : -1;
}

enum store_qs store_select_config(struct store_conn *c, const char *id, struct store_config *out)
{
	static struct store_stmt st = {
		"select_config", "SELECT " CONFIG_COLUMNS " FROM twin_configurations WHERE id = $1",
		0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && config_row_read(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}

enum store_qs store_select_configs(struct store_conn *c, struct store_config **out, size_t *n)
{
	static struct store_stmt st = {"select_configs",
				       "SELECT " CONFIG_COLUMNS " FROM twin_configurations"
				       " ORDER BY priority DESC, created_at DESC, id",
				       0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);
	size_t rows = res ? (size_t)PQntuples(res) : 0;

	*out = NULL;
	*n = 0;
	if (qs > 0 && (*out = calloc(rows, sizeof **out)) == NULL)
		qs = STORE_HARD;
	for (size_t i = 0; qs > 0 && i < rows; i++) {
		if (config_row_read(res, (int)i, &(*out)[i]) != 0) {
			qs = STORE_HARD;
			break;
		}
		*n = i + 1;
	}
	if (qs < 0) {
		for (size_t i = 0; i < *n; i++)
			store_config_free(&(*out)[i]);
		free(*out);
		*out = NULL;
		*n = 0;
	}
	PQclear(res);
	return qs;
}
