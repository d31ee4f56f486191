/* One HTTP request's context: created on MHD's first call, freed in the
 * completion callback. Everything a handler allocates hangs off it. */
#ifndef ORCHARD_REQUEST_H
#define ORCHARD_REQUEST_H
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <time.h>

#include "common/buf.h"
#include "server/routes.h"

struct server;

/* Who is calling, once an operator token was accepted. */
struct operator
{
	char jti[64];
	char sub[128];
	unsigned scopes;
};

struct request {
	struct server *srv;
	struct MHD_Connection *conn;
	const struct route *route; /* NULL until matched */
	const char *method;	   /* MHD's, valid for the request */
	char *path;		   /* without query string; owned */
	char id[40];		   /* X-Request-Id */
	char allow[64];		   /* Allow header for a 405 */
	char *params[ROUTE_MAX_PARAMS];
	int nparams;
	struct buf body;
	bool body_too_large;
	json_t *json; /* parsed body; owned */
	struct operator op;
	bool authenticated;
	bool audited;	 /* the handler wrote the audit row in its transaction */
	unsigned status; /* what was queued, 0 until then */
	struct timespec start;
};

/* The MHD access handler and completion callback that drive a request
 * through parse → route → auth → handler. */
enum MHD_Result request_access(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **req_cls);
void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		       enum MHD_RequestTerminationCode toe);

/* A query-string argument, or NULL. */
const char *request_arg(struct request *req, const char *name);

#endif
