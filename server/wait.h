/* Requests that wait without a thread: a waiter suspends its connection
 * until an event on a channel and key, a deadline, or shutdown. */
#ifndef ORCHARD_WAIT_H
#define ORCHARD_WAIT_H
#include <microhttpd.h>
#include <stdbool.h>

struct server;
struct waiter;

/* Subscribes to channel/key and arms a deadline timeout_ms from now,
 * before the caller looks at the database, so nothing written after that
 * look is missed. conn is the connection to suspend and resume. NULL when
 * out of memory (answer 503). */
struct waiter *wait_new(struct server *srv, struct MHD_Connection *conn, const char *channel,
			const char *key, long timeout_ms);
void wait_free(struct waiter *w);
/* wait_free with a void * argument, for request_set_state(). */
void wait_free_cb(void *w);

/* Call after looking and finding nothing: suspends the connection and
 * returns true, unless an event came or the deadline passed since the last
 * call (then returns false: look again, or answer). From the access
 * handler or a response's content reader only. */
bool wait_sleep(struct waiter *w);

/* Whether the deadline has passed or the server is shutting down. */
bool wait_expired(struct waiter *w);

/* Arms a new deadline timeout_ms from now (a stream's next heartbeat). */
void wait_rearm(struct waiter *w, long timeout_ms);

/* Waiters suspended right now, for /metrics and the benchmark. */
long wait_count_sleeping(void);

#endif
