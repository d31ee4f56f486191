/* GET /devices/{deviceId}/twin/stream: the device's desired properties as
 * server-sent events, one "desired" event each time desired.$version moves
 * (id: that $version, data: the section). Last-Event-ID (or ?since=) is
 * the $version the device has: when desired moved past it meanwhile, the
 * current desired comes at once, so a device that reconnects misses
 * nothing; without either, the first event is the current desired. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/twins.h"
#include "server/wait.h"

#define STREAM_HEARTBEAT_MS 15000 /* finds dead clients; keeps proxies from timing out */
#define STREAM_BUF_MAX (64 * 1024)

/* Owned by the response: it lives as long as the stream. */
struct twin_stream {
	struct server *srv;
	struct waiter *w;
	char id[TWIN_DEVICE_ID_MAX + 1];
	long long last; /* desired.$version last sent (or the client's) */
	struct buf out;
	size_t off; /* bytes of out already sent */
};

static void stream_free(void *cls)
{
	struct twin_stream *st = cls;

	wait_free(st->w);
	buf_free(&st->out);
	free(st);
}

struct twin_read_one {
	const char *id;
	struct store_twin *row;
};

static enum store_qs read_cb(struct store_conn *c, void *cls)
{
	struct twin_read_one *r = cls;

	return store_select_twin(c, r->id, r->row);
}

/* Looks at the twin: appends an event when desired moved past st->last.
 * 1 when one was added, 0 when nothing moved, -1 when the twin is gone,
 * -3 when the database failed (the stream then ends; the client resumes). */
static int stream_look(struct twin_stream *st)
{
	struct store_twin row = {0};
	struct twin_read_one r = {st->id, &row};
	enum store_qs qs = store_run(st->srv->store, read_cb, &r);
	int rc = qs < 0 ? -3 : -1;

	if (qs != STORE_ONE)
		goto out;
	rc = 0;
	if (row.desired_version <= st->last)
		goto out;
	json_t *d = twin_render_view(&row, TWIN_VIEW_DESIRED);
	char *data = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	char head[64];
	int n = snprintf(head, sizeof head,
			 "id: %lld\nevent: desired\ndata: ", row.desired_version);
	rc = data == NULL || buf_add(&st->out, head, (size_t)n) != 0 ||
			     buf_add(&st->out, data, strlen(data)) != 0 ||
			     buf_add(&st->out, "\n\n", 2) != 0
		     ? -1
		     : 1;
	free(data);
	json_decref(d);
	if (rc == 1)
		st->last = row.desired_version;
out:
	store_twin_free(&row);
	return rc;
}

/* libmicrohttpd's content reader: sends what is buffered, else looks at
 * the twin, else sleeps (suspended, no thread held) until it changes, the
 * heartbeat is due, or shutdown. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct twin_stream *st = cls;

	(void)pos;
	for (;;) {
		if (st->off < st->out.len) {
			size_t n = st->out.len - st->off < max ? st->out.len - st->off : max;
			memcpy(out, st->out.data + st->off, n);
			st->off += n;
			return (ssize_t)n;
		}
		buf_free(&st->out);
		st->off = 0;
		if (atomic_load(&st->srv->shutting_down))
			return MHD_CONTENT_READER_END_OF_STREAM;
		int rc = stream_look(st);
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (rc > 0)
			continue;
		if (wait_expired(st->w)) {
			wait_rearm(st->w, STREAM_HEARTBEAT_MS);
			if (buf_add(&st->out, ": heartbeat\n\n", 13) != 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		if (wait_sleep(st->w))
			return 0; /* suspended: called again once resumed */
	}
}

int h_twins_stream(struct request *req)
{
	const char *v = request_arg(req, "since");
	struct twin_stream *st;
	struct MHD_Response *resp;
	char *end;
	int ret, rc;

	if (v == NULL)
		v = request_header(req, "Last-Event-ID");
	if (!twin_device_id_ok(req->params[0]))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	st->srv = req->srv;
	snprintf(st->id, sizeof st->id, "%s", req->params[0]);
	buf_init(&st->out, STREAM_BUF_MAX);
	if (v != NULL) {
		errno = 0;
		st->last = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || st->last < 0) {
			stream_free(st);
			return reply_problem(req, ERR_INVALID_PARAMETER,
					     "since or Last-Event-ID must be a desired $version");
		}
	}
	/* Subscribed before the first look, like the long poll. */
	st->w = wait_new(req->srv, req->conn, EVENTS_TWIN, st->id, STREAM_HEARTBEAT_MS);
	rc = st->w ? stream_look(st) : -2;
	if (rc < 0) {
		stream_free(st);
		if (rc == -2)
			return reply_problem(req, ERR_INTERNAL, "cannot wait");
		if (rc == -3)
			return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		return reply_problem(req, ERR_TWIN_NOT_FOUND, "no twin for %s", req->params[0]);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st,
						 stream_free);
	if (resp == NULL) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = reply_queue(req, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
