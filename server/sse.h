/* Server-sent event streams that wait without a thread: the content reader
 * sends what is buffered, else asks the stream's look() for new events,
 * else sleeps (the connection suspended) until an event on its channel and
 * key, the heartbeat, or shutdown. GET /ops/audit/stream and GET
 * /devices/{id}/twin/stream are two look() functions. */
#ifndef ORCHARD_SSE_H
#define ORCHARD_SSE_H
#include "common/buf.h"

struct request;

#define SSE_HEARTBEAT_MS 15000 /* finds dead clients; keeps proxies from timing out */

/* Appends new events to out (sse_event()); returns how many (0: nothing
 * new), or -1 to end the stream with an error (the client resumes from its
 * last id). Runs on libmicrohttpd's threads, once at a time per stream. */
typedef int (*sse_look_fn)(void *cls, struct buf *out);

/* Queues 200 text/event-stream whose events come from look(cls). The
 * stream subscribes to channel/key before its first look, so nothing
 * written after the caller's own checks is missed. cls belongs to the
 * stream from this call on, even when it fails: cls_free(cls) runs when
 * the stream ends. */
int sse_reply(struct request *req, const char *channel, const char *key, sse_look_fn look,
	      void *cls, void (*cls_free)(void *cls));

/* Appends "id: ID\nevent: EVENT\ndata: DATA\n\n" to out. 0, or -1 when
 * data is NULL or out is full. */
int sse_event(struct buf *out, long long id, const char *event, const char *data);

#endif
