/* Reads many twins FOR UPDATE in one statement (in device ID order, so
 * concurrent lockers queue rather than deadlock): the read of the bulk
 * read-modify-write that applies a fleet configuration. */
#include <stdlib.h>
#include <string.h>

#include "server/store/configs.h"
#include "server/store/store_pg.h"

int twin_row_at(const PGresult *res, int r, struct store_twin *t);

enum store_qs store_lock_twins(struct store_conn *c, const char *ids_json, struct store_twin **out,
			       size_t *n)
{
	static struct store_stmt st = {
		"lock_twins",
		"SELECT device_id, etag, version, status, tags::text, desired::text,"
		" reported::text, (desired->>'$version')::bigint, " STORE_EPOCH(
			"updated_at") " FROM twins WHERE device_id IN"
				      " (SELECT jsonb_array_elements_text($1::jsonb))"
				      " ORDER BY device_id FOR UPDATE",
		0};
	const char *p[] = {ids_json};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	size_t rows = qs > 0 ? (size_t)PQntuples(res) : 0;

	*out = NULL;
	*n = 0;
	if (rows > 0 && (*out = calloc(rows, sizeof **out)) == NULL)
		qs = STORE_HARD;
	for (size_t i = 0; *out != NULL && i < rows; i++) {
		*n = i + 1;
		if (twin_row_at(res, (int)i, &(*out)[i]) != 0) {
			qs = STORE_HARD;
			break;
		}
	}
	if (qs < 0) {
		for (size_t i = 0; i < *n; i++)
			store_twin_free(&(*out)[i]);
		free(*out);
		*out = NULL;
		*n = 0;
	}
	PQclear(res);
	return qs;
}
