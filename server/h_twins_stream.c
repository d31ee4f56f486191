/* GET /devices/{deviceId}/twin/stream: the device's desired properties as
 * server-sent events (server/sse.c), one "desired" event each time
 * desired.$version moves (id: that $version, data: the section).
 * Last-Event-ID (or ?since=) is the $version the device has: when desired
 * moved past it meanwhile, the current desired comes at once, so a device
 * that reconnects misses nothing; without either, the first event is the
 * current desired. Only the newest desired is sent, never a stale one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/sse.h"
#include "server/store/events.h"
#include "server/twins.h"

/* Owned by the stream. */
struct twin_stream {
	struct server *srv;
	char id[TWIN_DEVICE_ID_MAX + 1];
	long long last; /* desired.$version last sent (or the client's) */
	struct store_twin row;
};

static enum store_qs read_cb(struct store_conn *c, void *cls)
{
	struct twin_stream *st = cls;

	store_twin_free(&st->row);
	return store_select_twin(c, st->id, &st->row);
}

/* sse_look_fn: an event when desired moved past st->last; the stream ends
 * when the twin is gone or the database fails. */
static int twin_look(void *cls, struct buf *out)
{
	struct twin_stream *st = cls;
	int rc = -1;

	if (store_run(st->srv->store, read_cb, st) != STORE_ONE)
		goto out;
	rc = 0;
	if (st->row.desired_version > st->last) {
		json_t *d = twin_render_view(&st->row, TWIN_VIEW_DESIRED);
		char *data = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		rc = sse_event(out, st->row.desired_version, "desired", data) == 0 ? 1 : -1;
		free(data);
		json_decref(d);
		if (rc == 1)
			st->last = st->row.desired_version;
	}
out:
	store_twin_free(&st->row);
	return rc;
}

static void stream_free(void *cls)
{
	struct twin_stream *st = cls;

	store_twin_free(&st->row);
	free(st);
}

int h_twins_stream(struct request *req)
{
	const char *v = request_arg(req, "since");
	struct twin_stream *st;
	enum store_qs qs;
	char *end;

	if (v == NULL)
		v = request_header(req, "Last-Event-ID");
	if (!twin_device_id_ok(req->params[0]))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	st->srv = req->srv;
	snprintf(st->id, sizeof st->id, "%s", req->params[0]);
	if (v != NULL) {
		errno = 0;
		st->last = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || st->last < 0) {
			stream_free(st);
			return reply_problem(req, ERR_INVALID_PARAMETER,
					     "since or Last-Event-ID must be a desired $version");
		}
	}
	qs = store_run(req->srv->store, read_cb, st);
	store_twin_free(&st->row);
	if (qs != STORE_ONE) {
		stream_free(st);
		if (qs < 0)
			return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		return reply_problem(req, ERR_TWIN_NOT_FOUND, "no twin for %s", req->params[0]);
	}
	return sse_reply(req, EVENTS_TWIN, st->id, twin_look, st, stream_free);
}
