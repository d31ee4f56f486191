/* Reads one device twin, and frees such rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/store_pg.h"
#include "server/store/twins.h"

void store_twin_free(struct store_twin *t)
{
	if (t == NULL)
		return;
	free(t->device_id);
	free(t->etag);
	free(t->status);
	free(t->tags);
	free(t->desired);
	free(t->reported);
	memset(t, 0, sizeof *t);
}

/* The columns every twin query returns, in this order; shared with
 * pg_lock_twin.c through twin_row_read(). */
enum store_qs twin_row_read(PGresult *res, enum store_qs qs, struct store_twin *out);

enum store_qs twin_row_read(PGresult *res, enum store_qs qs, struct store_twin *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE) {
		out->device_id = store_value_dup(res, 0, 0, &ok);
		out->etag = store_value_dup(res, 0, 1, &ok);
		out->version = store_value_ll(res, 0, 2);
		out->status = store_value_dup(res, 0, 3, &ok);
		out->tags = store_value_dup(res, 0, 4, &ok);
		out->desired = store_value_dup(res, 0, 5, &ok);
		out->reported = store_value_dup(res, 0, 6, &ok);
		out->desired_version = store_value_ll(res, 0, 7);
		out->updated_at = store_value_ll(res, 0, 8);
		if (!ok) {
			store_twin_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}

enum store_qs store_select_twin(struct store_conn *c, const char *device_id, struct store_twin *out)
{
	static struct store_stmt st = {
		"select_twin",
		"SELECT device_id, etag, version, status, tags::text, desired::text,"
		" reported::text, (desired->>'$version')::bigint, " STORE_EPOCH(
			"updated_at") " FROM twins WHERE device_id = $1",
		0};
	const char *p[] = {device_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	return twin_row_read(res, qs, out);
}
