/* GET /devices/{deviceId}/messages?after=ID&since=TIME&limit=N&wait=S: a
 * device's stored device-to-cloud messages (telemetry it sent over MQTT),
 * oldest first, in pages linked by "next" (?after= the last id). With
 * wait, an empty page waits up to that many seconds for the next message
 * (long poll, suspended: no thread waits). GET /messages/events: the same
 * for every device's, the fleet's telemetry in one sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/handlers.h"
#include "server/messages.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/twin_doc.h"
#include "server/wait.h"

#define MESSAGES_LIMIT_MAX 1000
#define MESSAGES_WAIT_MAX 60
#define ID_MAX 0x7fffffffffffffffLL

/* "2026-12-01T15:20:33Z" (fraction allowed) as epoch seconds; -1 if not. */
static long long since_parse(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (end == NULL)
		return -1;
	if (*end == '.')
		end += 1 + strspn(end + 1, "0123456789");
	if (strcmp(end, "Z") != 0)
		return -1;
	return (long long)timegm(&tm);
}

struct messages_read {
	const char *id;
	long long after, since;
	int limit;
	struct store_messages page;
};

static enum store_qs read_cb(struct store_conn *c, void *cls)
{
	struct messages_read *r = cls;

	store_messages_free(&r->page);
	return store_select_device_messages(c, r->id, r->after, r->since, r->limit, &r->page);
}

int h_devices_messages(struct request *req)
{
	struct messages_read r = {.id = req->nparams > 0 ? req->params[0] : NULL};
	struct waiter *w = req->state;
	const char *since = request_arg(req, "since");
	long long limit, wait;
	json_t *items = NULL, *body;
	char next[ROUTE_MAX_URL + 96];

	if (r.id != NULL && !twin_device_id_ok(r.id))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	if (request_arg_ll(req, "after", 0, 0, ID_MAX, &r.after) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "after must be a message id");
	if (since != NULL && (r.since = since_parse(since)) < 0)
		return reply_problem(req, ERR_INVALID_PARAMETER,
				     "since must be a UTC time: 2026-12-01T15:20:33Z");
	if (request_arg_ll(req, "limit", 100, 1, MESSAGES_LIMIT_MAX, &limit) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..%d",
				     MESSAGES_LIMIT_MAX);
	if (request_arg_ll(req, "wait", 0, 0, MESSAGES_WAIT_MAX, &wait) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "wait must be 0..%d seconds",
				     MESSAGES_WAIT_MAX);
	r.limit = (int)limit;
	/* subscribed before the first look: nothing slips between */
	if (w == NULL && wait > 0) {
		if ((w = wait_new(req->srv, req->conn, EVENTS_DEVICE_MESSAGE, r.id ? r.id : "",
				  (long)wait * 1000)) == NULL)
			return reply_problem(req, ERR_INTERNAL, "cannot wait");
		request_set_state(req, w, wait_free_cb);
	}
	for (;;) {
		if (store_run(req->srv->store, read_cb, &r) < 0)
			return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		if (r.page.n > 0 || w == NULL || wait_expired(w))
			break;
		if (wait_sleep(w))
			return MHD_YES; /* resumed by a message or the deadline */
	}
	items = json_array();
	for (int i = 0; items != NULL && i < r.page.n; i++)
		if (json_array_append_new(items, messages_json(&r.page.items[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	body = items ? json_pack("{s:o}", "items", items) : NULL;
	if (body != NULL) {
		/* req->path is the path as the client sent it (still encoded) */
		int n = snprintf(next, sizeof next, "%s?after=%lld&limit=%d", req->path,
				 r.page.n > 0 ? r.page.items[r.page.n - 1].id : r.after, r.limit);

		if (wait > 0 && n > 0 && (size_t)n < sizeof next)
			snprintf(next + n, sizeof next - (size_t)n, "&wait=%lld", wait);
		json_object_set_new(body, "next", json_string(next));
	}
	store_messages_free(&r.page);
	if (body == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return reply_json_steal(req, 200, body);
}
