/* Reads many device twins in one statement, for the twin batch
 * (server/twin_batch.c): one round trip for every read and every patch
 * queued meanwhile. */
#include <stdlib.h>
#include <string.h>

#include "server/store/store_pg.h"
#include "server/store/twins.h"

enum store_qs store_select_twins(struct store_conn *c, size_t n, const char *const *ids,
				 struct store_twin *out, size_t *nout)
{
	static struct store_stmt st = {
		"select_twins",
		"SELECT device_id, etag, version, status, tags::text, desired::text,"
		" reported::text, (desired->>'$version')::bigint, " STORE_EPOCH(
			"updated_at") " FROM twins WHERE device_id = ANY($1::text[])",
		0};
	struct buf b;
	const char *p[1];
	enum store_qs qs = STORE_HARD;
	PGresult *res = NULL;
	int ok = 1, rows;

	*nout = 0;
	buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < n; i++)
		if (store_array_add(&b, ids[i]) != 0)
			goto out;
	if ((p[0] = store_array_end(&b)) == NULL)
		goto out;
	if ((res = store_exec(c, &st, 1, p, &qs)) == NULL)
		goto out;
	rows = PQntuples(res);
	for (int i = 0; i < rows && (size_t)i < n && ok; i++) {
		struct store_twin *t = &out[i];

		memset(t, 0, sizeof *t);
		t->device_id = store_value_dup(res, i, 0, &ok);
		t->etag = store_value_dup(res, i, 1, &ok);
		t->version = store_value_ll(res, i, 2);
		t->status = store_value_dup(res, i, 3, &ok);
		t->tags = store_value_dup(res, i, 4, &ok);
		t->desired = store_value_dup(res, i, 5, &ok);
		t->reported = store_value_dup(res, i, 6, &ok);
		t->desired_version = store_value_ll(res, i, 7);
		t->updated_at = store_value_ll(res, i, 8);
		*nout = (size_t)i + 1;
	}
	if (!ok) {
		for (size_t i = 0; i < *nout; i++)
			store_twin_free(&out[i]);
		*nout = 0;
		qs = STORE_HARD;
	}
out:
	PQclear(res);
	buf_free(&b);
	return qs;
}
