/* Reads a page of a device twin's history, oldest first, after a twin
 * version; frees such pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/store_pg.h"
#include "server/store/twins.h"

void store_twin_history_free(struct store_twin_history *h)
{
	if (h == NULL)
		return;
	for (int i = 0; i < h->n; i++) {
		struct store_twin_change *e = &h->items[i];
		free(e->device_id);
		free(e->sections);
		free(e->actor_kind);
		free(e->actor);
		free(e->patch);
	}
	free(h->items);
	memset(h, 0, sizeof *h);
}

enum store_qs store_select_twin_history(struct store_conn *c, const char *device_id,
					long long after, int limit, struct store_twin_history *out)
{
	static struct store_stmt st = {
		"select_twin_history",
		"SELECT device_id, version, array_to_string(sections, ','), actor_kind, actor,"
		" patch::text, " STORE_EPOCH(
			"at") ", extract(microseconds from at)::bigint % 1000000"
			      " FROM twin_history WHERE device_id = $1 AND version > $2"
			      " ORDER BY version LIMIT $3",
		0};
	char a[24], l[16];
	const char *p[] = {device_id, a, l};
	enum store_qs qs;
	PGresult *res;
	int ok = 1;

	memset(out, 0, sizeof *out);
	snprintf(a, sizeof a, "%lld", after);
	snprintf(l, sizeof l, "%d", limit);
	res = store_exec(c, &st, 3, p, &qs);
	if (qs > 0) {
		out->items = calloc((size_t)qs, sizeof *out->items);
		if (out->items == NULL)
			ok = 0;
		for (int i = 0; ok && i < (int)qs; i++) {
			struct store_twin_change *e = &out->items[i];
			out->n = i + 1;
			e->device_id = store_value_dup(res, i, 0, &ok);
			e->version = store_value_ll(res, i, 1);
			e->sections = store_value_dup(res, i, 2, &ok);
			e->actor_kind = store_value_dup(res, i, 3, &ok);
			e->actor = store_value_dup(res, i, 4, &ok);
			e->patch = store_value_dup(res, i, 5, &ok);
			e->at = store_value_ll(res, i, 6);
			e->at_us = store_value_ll(res, i, 7);
		}
		if (!ok) {
			store_twin_history_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
