/* One HTTP request's context: created on MHD's first call, freed in the
 * completion callback. Everything a handler allocates hangs off it. */
#ifndef ORCHARD_REQUEST_H
#define ORCHARD_REQUEST_H
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <time.h>

#include "common/buf.h"
#include "common/errors_gen.h"
#include "server/routes.h"

struct server;
struct acme_auth;

/* Who is calling, once an operator token was accepted. */
struct operator
{
	char jti[64];
	char sub[128];
	unsigned scopes;
};

/* Which device is calling, once a device SAS was accepted: the enrollment
 * whose key signed it (and, on the twin API, its registration's device). */
struct device {
	char registration_id[129];
	char enrollment_kind[16]; /* "individual" or "group" */
	char enrollment_id[129];
	char device_id[129]; /* IoT Hub's device ID, for hub credentials (DEVICE_HUB) */
	bool authenticated;
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
	size_t body_max;       /* the route's cap, within --body-limit */
	size_t body_reserved;  /* bytes of the process-wide body budget held */
	bool refused;	       /* the answer is decided: err below */
	enum err_code refusal; /* ... and sent when the body has been read */
	char refusal_detail[160];
	const char *challenge; /* WWW-Authenticate for a 401, from the auth kind */
	json_t *json;	       /* parsed body; owned */
	struct operator op;
	bool authenticated; /* an operator token was accepted */
	struct device dev;  /* a device SAS was accepted (dev.authenticated) */
	bool dispatched;    /* the handler ran: later calls are resumptions */
	void *state;	    /* the handler's, across suspensions */
	void (*state_free)(void *state);
	bool audited;	 /* the handler wrote the audit row in its transaction */
	unsigned status; /* what was queued, 0 until then */
	/* The protocol this request speaks, which decides the wire format of
	 * generic errors and the headers every reply carries (ACME); set from
	 * the route, Orchard's own until then. */
	enum err_family family;
	struct timespec start;
	/* AUTH_ACME_JWS: the verified JWS, its key and account; owned. */
	struct acme_auth *acme;
	/* Extension members for a body kind's refusal (ACME's "algorithms"
	 * with badSignatureAlgorithm); owned until the reply takes it. */
	json_t *refusal_ext;
	long retry_after_s;		   /* Retry-After of a 429 or 503 (1 when 0) */
	const char *problem_location;	   /* Location on an error reply (ACME keyChange's 409) */
	const char *problem_content_range; /* Content-Range on an error reply (the depot's 416) */
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

/* The query-string argument name as a decimal integer within min..max
 * into *out: 0, with def when absent; -1 when present but not such a
 * number. */
int request_arg_ll(struct request *req, const char *name, long long def, long long min,
		   long long max, long long *out);

/* A request header, or NULL. */
const char *request_header(struct request *req, const char *name);

/* Gives the request a state object that outlives a suspension; cleaner
 * frees it with the request (or when another state replaces it). */
void request_set_state(struct request *req, void *state, void (*cleaner)(void *state));

/* Suspends req: the handler then returns MHD_YES without a reply and holds
 * no thread. After request_resume() (from any thread) the route's handler
 * runs again with the same req and req->state: no second routing or
 * authentication. Both wrap libmicrohttpd's suspend/resume. */
void request_suspend(struct request *req);
void request_resume(struct request *req);

#endif
