/* A small HTTP/1.1 GET for the http-01 validator (RFC 8555 section 8.3):
 * one request per connection (Connection: close) to an address already
 * resolved, over TCP or over TLS without a certificate check, and the
 * response's status, Location and a body of at most ACME_HTTP_BODY_MAX
 * bytes. It replaces libcurl, whose option resets, printf/scanf and
 * allocations were a few % of orchardd's CPU per issuance. The response
 * parser does no I/O, so unit tests feed it bytes (tests/unit/acme/
 * test_http_get.c). */
#ifndef ORCHARD_ACME_HTTP_GET_H
#define ORCHARD_ACME_HTTP_GET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme/jws.h"

#define ACME_HTTP_BODY_MAX 4096 /* a key authorization is about 90 bytes */
#define ACME_HTTP_HEAD_MAX 8192 /* the status line and the headers together */

enum acme_http_state {
	ACME_HTTP_HEAD,	      /* reading the status line and headers */
	ACME_HTTP_BODY_LEN,   /* Content-Length bytes left */
	ACME_HTTP_BODY_EOF,   /* the body runs to the end of the connection */
	ACME_HTTP_CHUNK_SIZE, /* a chunk-size line (with extensions) */
	ACME_HTTP_CHUNK_DATA, /* a chunk's bytes */
	ACME_HTTP_CHUNK_END,  /* the CRLF after a chunk's bytes */
	ACME_HTTP_TRAILER,    /* trailer lines up to an empty one */
	ACME_HTTP_DONE,
};

/* One response, parsed as its bytes arrive. Set up with
 * acme_http_resp_init(); holds no allocation. */
struct acme_http_resp {
	int status;			   /* 100-599, once the head is read */
	const char *location;		   /* the Location value (in head), or NULL */
	char body[ACME_HTTP_BODY_MAX + 1]; /* NUL-terminated */
	size_t body_len;
	bool too_long;	 /* failed: the body is longer than ACME_HTTP_BODY_MAX */
	const char *why; /* failed: what was wrong (a static string) */
	/* The parser's state. */
	enum acme_http_state state;
	char head[ACME_HTTP_HEAD_MAX + 1];
	size_t head_len; /* in HEAD; in TRAILER the trailer's bytes so far */
	uint64_t left;	 /* BODY_LEN, CHUNK_DATA: bytes to come */
	char line[256];	 /* CHUNK_SIZE: the line so far */
	size_t line_len; /* CHUNK_SIZE, TRAILER: the line's length; CHUNK_END: CR seen */
	bool no_body;	 /* 204 and 304 have none, whatever the headers say */
};

/* Resets r for a new response. */
void acme_http_resp_init(struct acme_http_resp *r);

/* Feeds the next n bytes of the response to r; n == 0 means the peer
 * closed the connection. 1 when the response is complete (bytes after it
 * are ignored), 0 when more are needed, -1 when it is malformed
 * (r->why) or its body too long (r->too_long too). HTTP/1.0 and 1.1;
 * CRLF or bare LF line ends; Content-Length, chunked, or to the end;
 * 1xx interim responses are skipped. */
int acme_http_feed(struct acme_http_resp *r, const char *p, size_t n);

/* What to fetch. */
struct acme_http_req {
	const char *addr;   /* the numeric IPv4 or IPv6 address to connect to */
	unsigned port;	    /* and its port */
	bool tls;	    /* https: TLS without a certificate check (section 8.3) */
	const char *host;   /* the URL's host, without brackets: Host and the SNI */
	const char *target; /* the request target: the path and query */
	int timeout_s;	    /* for the connection; the whole exchange gets twice it */
};

/* One GET: 0 with the response in *r (r->status, r->location, r->body),
 * or -1 with *e: connection (refused, timed out, malformed response), tls
 * (a TLS failure), incorrectResponse ("the response body is too long"),
 * serverInternal. */
int acme_http_get(const struct acme_http_req *q, struct acme_http_resp *r, struct acme_err *e);

#endif
