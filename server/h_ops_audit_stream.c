/* GET /ops/audit/stream: new audit entries as server-sent events, id: the
 * entry id, so a client that reconnects with Last-Event-ID misses nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/audit.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/sse.h"
#include "server/store/events.h"
#include "server/store/operators.h"

#define STREAM_BATCH 100

/* Owned by the stream. */
struct audit_stream {
	struct server *srv;
	long long last; /* id of the last entry sent */
};

/* sse_look_fn: the entries after st->last, as events. */
static int audit_look(void *cls, struct buf *out)
{
	struct audit_stream *st = cls;
	struct store_audit_page page = {0};
	int rc = 0;

	if (audit_select_after(st->srv, st->last, STREAM_BATCH, &page) != 0)
		return -1;
	for (size_t i = 0; i < page.n && rc >= 0; i++) {
		json_t *e = audit_entry_json(&page.items[i]);
		char *data = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		if (sse_event(out, page.items[i].id, "audit", data) != 0) {
			rc = -1;
		} else {
			st->last = page.items[i].id;
			rc++;
		}
		free(data);
		json_decref(e);
	}
	store_audit_page_free(&page);
	return rc;
}

static enum store_qs newest_cb(struct store_conn *c, void *cls)
{
	return store_select_audit(c, 0, 1, cls);
}

/* Where to start: ?after=ID, else Last-Event-ID, else after the newest. */
static int stream_start_id(struct request *req, long long *id)
{
	const char *v = request_arg(req, "after");
	struct store_audit_page newest = {0};
	char *end;

	if (v == NULL)
		v = request_header(req, "Last-Event-ID");
	if (v != NULL) {
		errno = 0;
		*id = strtoll(v, &end, 10);
		return errno == 0 && end != v && *end == '\0' && *id >= 0 ? 0 : -1;
	}
	if (store_run(req->srv->store, newest_cb, &newest) < 0)
		return -2;
	*id = newest.n > 0 ? newest.items[0].id : 0;
	store_audit_page_free(&newest);
	return 0;
}

int h_ops_audit_stream(struct request *req)
{
	struct audit_stream *st = calloc(1, sizeof *st);

	if (st == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	st->srv = req->srv;
	switch (stream_start_id(req, &st->last)) {
	case 0: break;
	case -1:
		free(st);
		return reply_problem(req, ERR_INVALID_PARAMETER,
				     "after or Last-Event-ID must be an entry id");
	default: free(st); return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	/* sse_reply subscribes before its first look: an entry written after
	 * stream_start_id() read the newest is still sent. */
	return sse_reply(req, EVENTS_AUDIT, "", audit_look, st, free);
}
