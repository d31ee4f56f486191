/* GET /ops/audit: the audit trail, newest first, in pages linked by a
 * keyset cursor (?before=ID) so paging stays stable while rows arrive; or,
 * with ?after=ID, the entries after ID, oldest first, waiting up to
 * ?wait=SECONDS for the first one (long poll). */
#include <stdio.h>
#include <stdlib.h>

#include "server/audit.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/store/operators.h"
#include "server/wait.h"

#define AUDIT_WAIT_MAX 60
#define ID_MAX 0x7fffffffffffffffLL

/* A page and its "next" link (the same listing, past the page's last
 * entry) as the response body; steals items. */
static int audit_reply_page(struct request *req, json_t *items, const char *next)
{
	json_t *body = json_pack("{s:o}", "items", items);

	if (body != NULL && next != NULL)
		json_object_set_new(body, "next", json_string(next));
	return reply_json_steal(req, 200, body);
}

/* The long poll: look, and when nothing is there, sleep until an entry is
 * written by any orchardd on this database, or the wait is over. The
 * waiter subscribes before the first look, so nothing slips between. */
static int audit_list_after(struct request *req, long long limit)
{
	struct store_audit_page page = {0};
	struct waiter *w = req->state;
	long long after, wait;
	char next[96];
	int ret;

	if (request_arg_ll(req, "after", 0, 0, ID_MAX, &after) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "after must be an entry id");
	if (request_arg_ll(req, "wait", 0, 0, AUDIT_WAIT_MAX, &wait) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "wait must be 0..%d seconds",
				     AUDIT_WAIT_MAX);
	if (w == NULL && wait > 0) {
		w = wait_new(req->srv, req->conn, EVENTS_AUDIT, "", (long)wait * 1000);
		if (w == NULL)
			return reply_problem(req, ERR_INTERNAL, "cannot wait");
		request_set_state(req, w, wait_free_cb);
	}
	for (;;) {
		if (audit_select_after(req->srv, after, (int)limit, &page) != 0)
			return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		if (page.n > 0)
			break;
		if (w == NULL || wait_expired(w))
			return reply_empty(req, 204);
		if (wait_sleep(w))
			return MHD_YES; /* resumed by an entry or the deadline */
	}
	snprintf(next, sizeof next, "/ops/audit?limit=%lld&after=%lld&wait=%lld", limit,
		 page.items[page.n - 1].id, wait);
	ret = audit_reply_page(req, audit_page_json(&page), next);
	store_audit_page_free(&page);
	return ret;
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
	char next[64];
	int ret;

	if (request_arg_ll(req, "limit", 50, 1, 500, &limit) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..500");
	if (request_arg(req, "after") != NULL) {
		if (request_arg(req, "before") != NULL)
			return reply_problem(req, ERR_INVALID_PARAMETER,
					     "after and before do not mix");
		return audit_list_after(req, limit);
	}
	if (request_arg(req, "wait") != NULL)
		return reply_problem(req, ERR_INVALID_PARAMETER, "wait needs after");
	if (request_arg_ll(req, "before", 0, 1, ID_MAX, &l.before) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER,
				     "before must be a positive entry id");
	l.limit = (int)limit;
	if (store_run(req->srv->store, audit_list_cb, &l) < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (l.page.n == (size_t)limit)
		snprintf(next, sizeof next, "/ops/audit?limit=%lld&before=%lld", limit,
			 l.page.items[l.page.n - 1].id);
	ret = audit_reply_page(req, audit_page_json(&l.page),
			       l.page.n == (size_t)limit ? next : NULL);
	store_audit_page_free(&l.page);
	return ret;
}
