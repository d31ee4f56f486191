/* GET /messages/events/stream: every device's telemetry as server-sent
 * events as it is stored, id: the message id, so a consumer that
 * reconnects with Last-Event-ID (or ?after=ID) misses nothing still kept. */
#include <errno.h>
#include <stdlib.h>

#include "server/handlers.h"
#include "server/messages.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/sse.h"
#include "server/store/events.h"

#define STREAM_BATCH 100

/* Owned by the stream. */
struct messages_stream {
	struct server *srv;
	long long last; /* id of the last message sent */
	struct store_messages page;
};

static void messages_stream_free(void *cls)
{
	struct messages_stream *st = cls;

	store_messages_free(&st->page);
	free(st);
}

static enum store_qs page_cb(struct store_conn *c, void *cls)
{
	struct messages_stream *st = cls;

	store_messages_free(&st->page);
	return store_select_device_messages(c, NULL, st->last, 0, STREAM_BATCH, &st->page);
}

/* sse_look_fn: the messages after st->last, as events. */
static int messages_look(void *cls, struct buf *out)
{
	struct messages_stream *st = cls;
	int rc = 0;

	if (store_run(st->srv->store, page_cb, st) < 0)
		return -1;
	for (int i = 0; i < st->page.n && rc >= 0; i++) {
		json_t *e = messages_json(&st->page.items[i]);
		char *data = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		if (sse_event(out, st->page.items[i].id, "message", data) != 0)
			rc = -1;
		else {
			st->last = st->page.items[i].id;
			rc++;
		}
		free(data);
		json_decref(e);
	}
	store_messages_free(&st->page);
	return rc;
}

static enum store_qs newest_cb(struct store_conn *c, void *cls)
{
	return store_select_newest_message(c, cls);
}

int h_messages_stream(struct request *req)
{
	struct messages_stream *st = calloc(1, sizeof *st);
	const char *v = request_arg(req, "after");
	char *end;

	if (st == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	st->srv = req->srv;
	if (v == NULL)
		v = request_header(req, "Last-Event-ID");
	if (v != NULL) {
		errno = 0;
		st->last = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || st->last < 0) {
			free(st);
			return reply_problem(req, ERR_INVALID_PARAMETER,
					     "after or Last-Event-ID must be a message id");
		}
	} else if (store_run(req->srv->store, newest_cb, &st->last) < 0) {
		free(st);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	/* sse_reply subscribes before its first look: a message stored after
	 * the newest was read is still sent. */
	return sse_reply(req, EVENTS_DEVICE_MESSAGE, "", messages_look, st, messages_stream_free);
}
