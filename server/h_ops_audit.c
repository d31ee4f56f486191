/* GET /ops/audit: the audit trail, newest first, in pages linked by a
 * keyset cursor (?before=ID) so paging stays stable while rows arrive; or,
 * with ?after=ID, the entries after ID, oldest first, waiting up to
 * ?wait=SECONDS for the first one (long poll). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/store/operators.h"
#include "server/wait.h"

#define AUDIT_WAIT_MAX 60

static int arg_long(struct request *req, const char *name, long long def, long long min,
		    long long max, long long *out)
{
	const char *v = request_arg(req, name);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && *out >= min && *out <= max ? 0 : -1;
}

/* One page of entries after a cursor; 204 when there are none. */
static int audit_reply_after(struct request *req, json_t *items, long long limit, long long wait)
{
	size_t n = json_array_size(items);
	char next[96];

	if (n == 0) {
		json_decref(items);
		return reply_empty(req, 204);
	}
	json_int_t last = json_integer_value(json_object_get(json_array_get(items, n - 1), "id"));
	snprintf(next, sizeof next, "/ops/audit?limit=%lld&after=%lld&wait=%lld", limit,
		 (long long)last, wait);
	return reply_json_steal(req, 200, json_pack("{s:o, s:s}", "items", items, "next", next));
}

/* The long poll: look, and when nothing is there, sleep until an entry is
 * written by any orchardd on this database, or the wait is over. The
 * waiter subscribes before the first look, so nothing slips between. */
static int audit_list_after(struct request *req, long long limit)
{
	long long after, wait;
	struct waiter *w = req->state;
	json_t *items = NULL;

	if (arg_long(req, "after", 0, 0, 0x7fffffffffffffffLL, &after) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "after must be an entry id");
	if (arg_long(req, "wait", 0, 0, AUDIT_WAIT_MAX, &wait) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "wait must be 0..%d seconds",
				     AUDIT_WAIT_MAX);
	if (w == NULL && wait > 0) {
		w = wait_new(req->srv, req->conn, EVENTS_AUDIT, "", (long)wait * 1000);
		if (w == NULL)
			return reply_problem(req, ERR_INTERNAL, "cannot wait");
		request_set_state(req, w, wait_free_cb);
	}
	for (;;) {
		if (store_select_audit_after(req->srv->store, after, (int)limit, &items) < 0)
			return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		if (json_array_size(items) > 0 || w == NULL || wait_expired(w))
			return audit_reply_after(req, items, limit, wait);
		json_decref(items);
		if (wait_sleep(w))
			return MHD_YES; /* resumed by an entry or the deadline */
	}
}

int h_ops_audit_list(struct request *req)
{
	long long limit, before;
	json_t *items = NULL;
	char next[64];

	if (arg_long(req, "limit", 50, 1, 500, &limit) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..500");
	if (request_arg(req, "after") != NULL) {
		if (request_arg(req, "before") != NULL)
			return reply_problem(req, ERR_INVALID_PARAMETER,
					     "after and before do not mix");
		return audit_list_after(req, limit);
	}
	if (request_arg(req, "wait") != NULL)
		return reply_problem(req, ERR_INVALID_PARAMETER, "wait needs after");
	if (arg_long(req, "before", 0, 1, 0x7fffffffffffffffLL, &before) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER,
				     "before must be a positive entry id");
	if (store_select_audit(req->srv->store, before, (int)limit, &items) < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	size_t n = json_array_size(items);
	json_t *body = json_pack("{s:o}", "items", items);
	if (body != NULL && n == (size_t)limit) {
		json_int_t last =
			json_integer_value(json_object_get(json_array_get(items, n - 1), "id"));
		snprintf(next, sizeof next, "/ops/audit?limit=%lld&before=%lld", limit,
			 (long long)last);
		json_object_set_new(body, "next", json_string(next));
	}
	return reply_json_steal(req, 200, body);
}
