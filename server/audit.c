/* Writes one audit row per mutating operator request. The row names the
 * route pattern and the percent-decoded captures, so a search by jti finds
 * /OPS/TOKENS/%37... too. A failure to write is logged loudly with the whole
 * entry, so the trail survives in the logs. */
#include "server/audit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/operators.h"

/* The captures of req's route as {"name": "decoded value"}, or NULL. */
static char *audit_params_json(const struct request *req)
{
	const char *p = req->route->pattern;
	json_t *obj = json_object();
	char *text = NULL;

	for (int i = 0; obj != NULL && i < req->nparams && (p = strchr(p, '{')) != NULL; i++) {
		const char *end = strchr(++p, '}');
		char name[32];
		if (end == NULL || (size_t)(end - p) >= sizeof name)
			break;
		memcpy(name, p, (size_t)(end - p));
		name[end - p] = '\0';
		/* Captures come off the wire: jansson refuses bad UTF-8, and the
		 * row must still be written, so such a value becomes null. */
		json_t *v = json_string(req->params[i]);
		json_object_set_new(obj, name, v ? v : json_null());
		p = end;
	}
	if (obj != NULL)
		text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	return text;
}

void audit_entry_from_request(struct request *req, unsigned status, struct store_audit_new *e,
			      char **params_json)
{
	*params_json = req->route ? audit_params_json(req) : NULL;
	*e = (struct store_audit_new){
		.subject = req->op.sub,
		.jti = req->op.jti,
		.method = req->method,
		.path = req->path,
		.route = req->route ? req->route->pattern : NULL,
		.params_json = *params_json,
		.request_id = req->id,
		.status = status,
	};
}

static enum store_qs audit_insert_cb(struct store_conn *c, void *cls)
{
	return store_insert_audit(c, cls, NULL);
}

void audit_record(struct server *srv, struct request *req)
{
	struct store_audit_new e;
	char *params = NULL, status[8];

	if (req->audited)
		return;
	audit_entry_from_request(req, req->status, &e, &params);
	if (store_run(srv->store, audit_insert_cb, &e) < 0) {
		snprintf(status, sizeof status, "%u", req->status);
		log_kv(LOG_ERROR, "audit entry not stored", "subject", e.subject, "jti", e.jti,
		       "method", e.method, "path", e.path, "route", e.route ? e.route : "",
		       "params", params ? params : "", "status", status, NULL);
	}
	free(params);
}

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *audit_entry_json(const struct store_audit_entry *e)
{
	char at[TIMEFMT_RFC3339_LEN];
	json_t *params = e->params_json ? json_loads(e->params_json, 0, NULL) : NULL;

	timefmt_rfc3339(e->at, at);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:s}", "id",
			 (json_int_t)e->id, "at", at, "subject", e->subject, "jti", e->jti,
			 "method", e->method, "path", e->path, "route", nullable(e->route),
			 "params", params ? params : json_null(), "target", nullable(e->target),
			 "status", e->status, "request_id", e->request_id);
}

json_t *audit_page_json(const struct store_audit_page *page)
{
	json_t *items = json_array();

	for (size_t i = 0; items != NULL && i < page->n; i++)
		if (json_array_append_new(items, audit_entry_json(&page->items[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	return items;
}

struct audit_after {
	long long after;
	int limit;
	struct store_audit_page *page;
};

static enum store_qs audit_after_cb(struct store_conn *c, void *cls)
{
	struct audit_after *a = cls;

	return store_select_audit_after(c, a->after, a->limit, a->page);
}

int audit_select_after(struct server *srv, long long after, int limit,
		       struct store_audit_page *page)
{
	struct audit_after a = {after, limit, page};

	return store_run(srv->store, audit_after_cb, &a) < 0 ? -1 : 0;
}
