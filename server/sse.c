/* Server-sent event streams: one content reader for every stream, the
 * waiting done by server/wait.c (see sse.h). */
#include "server/sse.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/wait.h"

#define SSE_BUF_MAX (1 << 20)

/* Owned by the response: it lives as long as the stream. */
struct sse {
	struct server *srv;
	struct waiter *w;
	sse_look_fn look;
	void *cls;
	void (*cls_free)(void *cls);
	struct buf out;
	size_t off; /* bytes of out already sent */
};

static void sse_free(void *p)
{
	struct sse *s = p;

	wait_free(s->w);
	buf_free(&s->out);
	if (s->cls_free != NULL)
		s->cls_free(s->cls);
	free(s);
}

int sse_event(struct buf *out, long long id, const char *event, const char *data)
{
	char head[96];
	int n = snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ", id, event);

	if (data == NULL || n < 0 || (size_t)n >= sizeof head)
		return -1;
	return buf_add(out, head, (size_t)n) != 0 || buf_add(out, data, strlen(data)) != 0 ||
			       buf_add(out, "\n\n", 2) != 0
		       ? -1
		       : 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *s = cls;

	(void)pos;
	for (;;) {
		if (s->off < s->out.len) {
			size_t n = s->out.len - s->off < max ? s->out.len - s->off : max;
			memcpy(out, s->out.data + s->off, n);
			s->off += n;
			return (ssize_t)n;
		}
		buf_free(&s->out);
		s->off = 0;
		if (atomic_load(&s->srv->shutting_down))
			return MHD_CONTENT_READER_END_OF_STREAM;
		int n = s->look(s->cls, &s->out);
		if (n < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (n > 0)
			continue;
		if (wait_expired(s->w)) {
			wait_rearm(s->w, SSE_HEARTBEAT_MS);
			if (buf_add(&s->out, ": heartbeat\n\n", 13) != 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		if (wait_sleep(s->w))
			return 0; /* suspended: called again once resumed */
	}
}

int sse_reply(struct request *req, const char *channel, const char *key, sse_look_fn look,
	      void *cls, void (*cls_free)(void *cls))
{
	struct sse *s = calloc(1, sizeof *s);
	struct MHD_Response *resp;
	int ret;

	if (s == NULL) {
		cls_free(cls);
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	}
	*s = (struct sse){.srv = req->srv, .look = look, .cls = cls, .cls_free = cls_free};
	buf_init(&s->out, SSE_BUF_MAX);
	s->w = wait_new(req->srv, req->conn, channel, key, SSE_HEARTBEAT_MS);
	if (s->w == NULL) {
		sse_free(s);
		return reply_problem(req, ERR_INTERNAL, "cannot wait");
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (resp == NULL) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = reply_queue(req, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
