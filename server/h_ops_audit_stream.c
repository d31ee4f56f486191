/* GET /ops/audit/stream: new audit entries as server-sent events, id: the
 * entry id, so a client that reconnects with Last-Event-ID misses nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "server/audit.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/store/operators.h"
#include "server/wait.h"

#define STREAM_HEARTBEAT_MS 15000 /* finds dead clients; keeps proxies from timing out */
#define STREAM_BATCH 100
#define STREAM_BUF_MAX (1 << 20)

/* Owned by the response: it lives as long as the stream. */
struct audit_stream {
	struct server *srv;
	struct waiter *w;
	long long last; /* id of the last entry sent */
	struct buf out;
	size_t off; /* bytes of out already sent */
};

static void stream_free(void *cls)
{
	struct audit_stream *st = cls;

	wait_free(st->w);
	buf_free(&st->out);
	free(st);
}

/* Formats entries as events into st->out; returns -1 when out of room. */
static int stream_format(struct audit_stream *st, const struct store_audit_page *page)
{
	for (size_t i = 0; i < page->n; i++) {
		json_t *e = audit_entry_json(&page->items[i]);
		char *data = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		long long id = page->items[i].id;
		char head[64];
		int n = snprintf(head, sizeof head, "id: %lld\nevent: audit\ndata: ", id);
		int rc = data == NULL || buf_add(&st->out, head, (size_t)n) != 0 ||
					 buf_add(&st->out, data, strlen(data)) != 0 ||
					 buf_add(&st->out, "\n\n", 2) != 0
				 ? -1
				 : 0;
		free(data);
		json_decref(e);
		if (rc != 0)
			return -1;
		st->last = id;
	}
	return 0;
}

/* libmicrohttpd's content reader: sends what is buffered, else looks for
 * new entries, else sleeps (the connection is suspended, no thread held)
 * until an entry is written, the heartbeat is due, or shutdown. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct audit_stream *st = cls;
	struct store_audit_page page = {0};

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
		/* On an error the stream ends; the client resumes from its last id. */
		if (audit_select_after(st->srv, st->last, STREAM_BATCH, &page) != 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		int rc = stream_format(st, &page);
		size_t n = page.n;
		store_audit_page_free(&page);
		if (rc != 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (n > 0)
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
	struct MHD_Response *resp = NULL;
	int ret;

	if (st == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	st->srv = req->srv;
	buf_init(&st->out, STREAM_BUF_MAX);
	/* Subscribed before the first look (in stream_read), like the long poll. */
	st->w = wait_new(req->srv, req->conn, EVENTS_AUDIT, "", STREAM_HEARTBEAT_MS);
	switch (st->w ? stream_start_id(req, &st->last) : -2) {
	case 0: break;
	case -1:
		stream_free(st);
		return reply_problem(req, ERR_INVALID_PARAMETER,
				     "after or Last-Event-ID must be an entry id");
	default: stream_free(st); return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
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
