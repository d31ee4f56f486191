/* GET /twins/{deviceId}/history?after=VERSION&limit=N: the accepted
 * changes of a twin, oldest first, one per twin version (who, when, which
 * sections, the patch), in pages linked by "next". History outlives the
 * twin, so an unknown device has an empty history, not a 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/twins.h"

#define HISTORY_LIMIT_MAX 500

struct history_read {
	const char *id;
	long long after;
	int limit;
	struct store_twin_history page;
};

static enum store_qs history_cb(struct store_conn *c, void *cls)
{
	struct history_read *h = cls;

	store_twin_history_free(&h->page);
	return store_select_twin_history(c, h->id, h->after, h->limit, &h->page);
}

/* One entry as JSON (new reference; NULL when out of memory). */
static json_t *change_json(const struct store_twin_change *e)
{
	json_t *patch = json_loads(e->patch, 0, NULL), *sections = json_array();
	char at[TIMEFMT_RFC3339_LEN], when[48];
	const char *p = e->sections;

	timefmt_rfc3339(e->at, at);
	/* 2026-12-01T15:20:33Z -> 2026-12-01T15:20:33.123456Z */
	snprintf(when, sizeof when, "%.19s.%06lldZ", at, e->at_us);
	while (sections != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");
		json_array_append_new(sections, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	if (patch == NULL || sections == NULL) {
		json_decref(patch);
		json_decref(sections);
		return NULL;
	}
	return json_pack("{s:I, s:o, s:{s:s, s:s}, s:s, s:o}", "version", (json_int_t)e->version,
			 "sections", sections, "by", "kind", e->actor_kind, "id", e->actor, "at",
			 when, "patch", patch);
}

int h_twins_history(struct request *req)
{
	struct history_read h = {.id = req->params[0]};
	long long limit;
	json_t *items = NULL, *body;
	char next[ROUTE_MAX_URL + 64];

	if (!twin_device_id_ok(h.id))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	if (request_arg_ll(req, "after", 0, 0, TWIN_INT_MAX, &h.after) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "after must be a version");
	if (request_arg_ll(req, "limit", 100, 1, HISTORY_LIMIT_MAX, &limit) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..%d",
				     HISTORY_LIMIT_MAX);
	h.limit = (int)limit;
	if (store_run(req->srv->store, history_cb, &h) < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	items = json_array();
	for (int i = 0; items != NULL && i < h.page.n; i++)
		if (json_array_append_new(items, change_json(&h.page.items[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	body = items ? json_pack("{s:o}", "items", items) : NULL;
	if (body != NULL && h.page.n == h.limit) {
		/* req->path is the path as the client sent it (still encoded). */
		snprintf(next, sizeof next, "%s?after=%lld&limit=%d", req->path,
			 h.page.items[h.page.n - 1].version, h.limit);
		json_object_set_new(body, "next", json_string(next));
	}
	store_twin_history_free(&h.page);
	if (body == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return reply_json_steal(req, 200, body);
}
