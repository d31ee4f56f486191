/* GET /ops/audit: the audit trail, newest first, in pages linked by a
 * keyset cursor (?before=ID) so paging stays stable while rows arrive. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/timefmt.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/operators.h"

static int arg_long(struct request *req, const char *name, long long def, long long max,
		    long long *out)
{
	const char *v = request_arg(req, name);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && *out > 0 && *out <= max ? 0 : -1;
}

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* One audit row for the operator API; params stay a JSON object. */
static json_t *audit_entry_json(const struct store_audit_entry *e)
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

struct audit_list {
	long long before;
	int limit;
	struct store_audit_page page;
};

static enum store_qs audit_list_cb(struct store_conn *c, void *cls)
{
	struct audit_list *l = cls;

	return store_select_audit(c, l->before, l->limit, &l->page);
}

int h_ops_audit_list(struct request *req)
{
	struct audit_list l = {0};
	long long limit;
	json_t *items = json_array(), *body = NULL;
	char next[64];
	int ret;

	if (arg_long(req, "limit", 50, 500, &limit) != 0) {
		ret = reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..500");
		goto out;
	}
	if (arg_long(req, "before", 0, 0x7fffffffffffffffLL, &l.before) != 0) {
		ret = reply_problem(req, ERR_INVALID_PARAMETER,
				    "before must be a positive entry id");
		goto out;
	}
	l.limit = (int)limit;
	if (store_run(req->srv->store, audit_list_cb, &l) < 0) {
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		goto out;
	}
	for (size_t i = 0; items != NULL && i < l.page.n; i++)
		if (json_array_append_new(items, audit_entry_json(&l.page.items[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	body = json_pack("{s:o}", "items", items);
	items = NULL;
	if (body != NULL && l.page.n == (size_t)limit) {
		snprintf(next, sizeof next, "/ops/audit?limit=%lld&before=%lld", limit,
			 l.page.items[l.page.n - 1].id);
		json_object_set_new(body, "next", json_string(next));
	}
	ret = reply_json_steal(req, 200, body);
out:
	json_decref(items);
	store_audit_page_free(&l.page);
	return ret;
}
