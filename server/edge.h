/* The HTTP edge: what libmicrohttpd 0.9.75 lets through and orchardd refuses
 * (ambiguous framing, Host, malformed fields, too many query parameters), a
 * deadline on each whole request, and a count of libmicrohttpd's own refusals. */
#ifndef ORCHARD_EDGE_H
#define ORCHARD_EDGE_H
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errors_gen.h"

struct request;
struct edge;

/* libmicrohttpd keeps every query parameter (56 bytes a record) in the
 * connection's memory pool and hangs when it runs out (see
 * docs/internals/edge.md): sized so that a target at both limits fits the
 * smallest pool --conn-memory allows (4 KiB: the target in the first 2 KiB
 * read buffer, 896 bytes of records, the rest for the headers). No route
 * reads more than six parameters or has a path near 1.5 KB. */
#define EDGE_MAX_PARAMS 16
#define EDGE_MAX_URI 1536

/* The header rules as a scan over fields, so the fuzzer and the server run
 * the same code. err stays ERR__COUNT while the fields are acceptable. */
struct edge_scan {
	unsigned content_length, transfer_encoding, host;
	enum err_code err;
	char detail[160];
};

void edge_scan_init(struct edge_scan *s);
/* One field as received. value may hold any byte; damaged says the line
 * held bytes the parser dropped (a NUL cuts libmicrohttpd's copy short). */
void edge_scan_field(struct edge_scan *s, const char *name, size_t name_len, const char *value,
		     size_t value_len, bool damaged);
/* The rules over the whole set; returns s->err (ERR__COUNT: acceptable). */
enum err_code edge_scan_finish(struct edge_scan *s, bool http11);

/* The raw request target before libmicrohttpd splits it: ERR__COUNT, or
 * ERR_URI_TOO_LONG / ERR_TOO_MANY_PARAMETERS. */
enum err_code edge_check_uri(const char *uri, size_t len);

/* Runs on MHD's first access-handler call for every request. Returns true
 * when the request may go on; false when a 400/414 was queued (req->status
 * set; MHD then closes the connection) or could not be (return MHD_NO). */
bool edge_screen(struct request *req, const char *version);

/* Process-wide state: the connections being received, the thread that
 * enforces their deadline, and counters. deadline_s 0: no deadline. */
struct edge *edge_new(long deadline_s);
void edge_free(struct edge *e);

/* libmicrohttpd callbacks, each with cls = the struct edge. */
void edge_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			    enum MHD_ConnectionNotificationCode code);
void *edge_uri_log(void *cls, const char *uri, struct MHD_Connection *c);
void edge_mhd_log(void *cls, const char *fmt, va_list ap);

/* The request's header and body are in: its deadline stops. */
void edge_request_received(struct MHD_Connection *c);
/* The response is sent: the next request on the connection gets a new one. */
void edge_request_done(struct MHD_Connection *c);

enum edge_kind {
	EDGE_MHD_400,
	EDGE_MHD_414,
	EDGE_MHD_431,
	EDGE_MHD_505,
	EDGE_MHD_OTHER_STATUS,
	EDGE_MHD_MESSAGE, /* any other libmicrohttpd log line (TLS, sockets) */
	EDGE_DEADLINE,	  /* connections closed by the request deadline */
	EDGE_NKINDS
};
extern const char *const edge_kind_names[EDGE_NKINDS];

/* Counters since start, by kind, for /metrics. e may be NULL (all 0). */
void edge_get_counts(const struct edge *e, uint64_t out[EDGE_NKINDS]);

#endif
