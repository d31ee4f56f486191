/* The request pipeline: MHD calls request_access() several times per
 * request. The first call routes and authenticates from the headers alone;
 * the body is collected into a bounded buffer; the last call answers. */
#include "server/request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "common/jsonb.h"
#include "common/log.h"
#include "depot/depot.h"
#include "server/acme.h"
#include "server/audit.h"
#include "server/authn.h"
#include "server/edge.h"
#include "server/metrics.h"
#include "server/reply.h"
#include "server/server.h"

#define JSON_MAX_DEPTH 32

/* Request IDs need to be unique, not secret: a per-thread splitmix64
 * seeded from getrandom is plenty and costs no system call per request. */
static void request_make_id(char out[40])
{
	static __thread uint64_t state;
	static const char digits[] = "0123456789abcdef";

	if (state == 0 && getrandom(&state, sizeof state, 0) != sizeof state)
		state = (uint64_t)(uintptr_t)out ^ (uint64_t)time(NULL);
	uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	for (int i = 0; i < 16; i++)
		out[i] = digits[(z >> (i * 4)) & 15];
	out[16] = '\0';
}

static struct request *request_new(struct server *srv, struct MHD_Connection *conn, const char *url,
				   const char *method)
{
	struct request *req = calloc(1, sizeof *req);

	if (req == NULL)
		return NULL;
	req->path = strdup(url);
	if (req->path == NULL) {
		free(req);
		return NULL;
	}
	req->srv = srv;
	req->conn = conn;
	req->method = method;
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	request_make_id(req->id);
	return req;
}

static void request_free(struct request *req)
{
	for (int i = 0; i < req->nparams; i++)
		free(req->params[i]);
	if (req->state_free != NULL)
		req->state_free(req->state);
	atomic_fetch_sub(&req->srv->body_in_flight, (long)req->body_reserved);
	buf_free(&req->body);
	json_decref(req->json);
	acme_auth_free(req->acme);
	json_decref(req->refusal_ext);
	free(req->path);
	free(req);
}

const char *request_arg(struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int request_arg_ll(struct request *req, const char *name, long long def, long long min,
		   long long max, long long *out)
{
	const char *v = request_arg(req, name);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && *out >= min && *out <= max ? 0 : -1;
}

const char *request_header(struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void request_set_state(struct request *req, void *state, void (*cleaner)(void *state))
{
	if (req->state_free != NULL && req->state != state)
		req->state_free(req->state);
	req->state = state;
	req->state_free = cleaner;
}

void request_suspend(struct request *req)
{
	MHD_suspend_connection(req->conn);
}

void request_resume(struct request *req)
{
	MHD_resume_connection(req->conn);
}

/* Decides the answer now, to be sent once the body (if any) is read. */
static void request_refuse(struct request *req, enum err_code err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void request_refuse(struct request *req, enum err_code err, const char *fmt, ...)
{
	req->refused = true;
	req->refusal = err;
	req->refusal_detail[0] = '\0';
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(req->refusal_detail, sizeof req->refusal_detail, fmt, ap);
		va_end(ap);
	}
}

static bool media_type_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	/* Accept parameters such as "; charset=utf-8" (DPS clients send it). */
	return ctype != NULL && strncasecmp(ctype, want, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static enum MHD_Result request_parse_body(struct request *req)
{
	const char *want =
		req->route->body == BODY_JOSE ? "application/jose+json" : "application/json";
	const char *ctype = request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	json_error_t jerr;

	if (req->route->body == BODY_RAW || req->route->body == BODY_UPLOAD)
		return MHD_YES;
	if (!media_type_is(ctype, want)) {
		return reply_problem(req, ERR_UNSUPPORTED_MEDIA_TYPE, "expected %s, got %s", want,
				     ctype ? ctype : "none");
	}
	if (req->body.len == 0)
		return reply_problem(req, ERR_MALFORMED_JSON, "the body is empty");
	switch (jsonb_parse((const char *)req->body.data, req->body.len, JSON_MAX_DEPTH, &req->json,
			    &jerr)) {
	case JSONB_OK: return MHD_YES;
	case JSONB_TOO_DEEP:
		return reply_problem(req, ERR_JSON_TOO_DEEP, "nesting deeper than %d levels",
				     JSON_MAX_DEPTH);
	default:
		return reply_problem(req, ERR_MALFORMED_JSON, "line %d column %d: %s", jerr.line,
				     jerr.column, jerr.text);
	}
}

static bool is_mutating(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* First call, headers complete: route, the route's body cap, and header
 * authentication, all before a body byte is read. */
static void request_admit(struct request *req)
{
	struct server *srv = req->srv;
	enum err_code err;
	size_t limit;

	if (strlen(req->path) > ROUTE_MAX_URL) {
		request_refuse(req, ERR_URI_TOO_LONG, "the limit is %d bytes", ROUTE_MAX_URL);
		return;
	}
	/* A path no route matches still speaks its protocol's errors: an ACME
	 * client gets a problem document with a nonce for a 404 or 405. */
	if (strncasecmp(req->path, "/acme/", 6) == 0)
		req->family = ERR_FAMILY_ACME;
	switch (route_find(req->method, req->path, &req->route, req->params, &req->nparams,
			   req->allow, sizeof req->allow)) {
	case ROUTE_NO_PATH: request_refuse(req, ERR_NOT_FOUND, NULL); return;
	case ROUTE_NO_METHOD:
		request_refuse(req, ERR_METHOD_NOT_ALLOWED, "allowed: %s", req->allow);
		return;
	case ROUTE_FOUND: break;
	}
	req->family = req->route->wire;
	/* An upload (a depot package) is capped by its own limit, not --body-limit. */
	limit = req->route->body == BODY_UPLOAD
			? (size_t)srv->cfg.depot_max_module + DEPOT_OPKG_OVERHEAD
			: (size_t)srv->cfg.body_limit;
	req->body_max = req->route->body_max < limit ? req->route->body_max : limit;
	buf_init(&req->body, req->body_max);
	if (authn_stage(req->route) == AUTHN_HEADERS && !authn_check(req, &err)) {
		request_refuse(req, err, NULL);
		return;
	}
	const char *len = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len != NULL && strtoull(len, NULL, 10) > req->body_max)
		request_refuse(req, ERR_BODY_TOO_LARGE, "the limit is %zu bytes", req->body_max);
}

/* Takes body bytes against the route's cap and the process-wide budget. */
static void request_take_body(struct request *req, const char *data, size_t n)
{
	struct server *srv = req->srv;

	if (req->refused)
		return; /* the answer is known: the rest is dropped */
	req->body_reserved += n;
	if (atomic_fetch_add(&srv->body_in_flight, (long)n) + (long)n > srv->cfg.body_budget)
		request_refuse(req, ERR_BODY_BUDGET, NULL);
	else if (buf_add(&req->body, data, n) != 0)
		request_refuse(req, ERR_BODY_TOO_LARGE, "the limit is %zu bytes", req->body_max);
	else
		return;
	/* Refused: give the memory back now, so the uploads still running
	 * can finish instead of all failing together. */
	atomic_fetch_sub(&srv->body_in_flight, (long)req->body_reserved);
	req->body_reserved = 0;
	buf_free(&req->body);
}

/* Last call: the decided refusal, or body checks, body authentication and
 * the handler; a resumed request goes straight back to its handler. */
static enum MHD_Result request_answer(struct request *req)
{
	enum err_code err;
	enum MHD_Result ret;

	if (req->dispatched) { /* resumed: audited below once it answers */
		ret = (enum MHD_Result)req->route->handler(req);
		goto audit;
	}
	if (req->refused) {
		ret = reply_problem(req, req->refusal, req->refusal_detail[0] ? "%s" : NULL,
				    req->refusal_detail);
		goto audit;
	}
	/* A refusal that could not be queued (MHD_NO) must not fall through
	 * to the handler as if the body had been accepted. */
	if (req->route->body != BODY_NONE &&
	    ((ret = request_parse_body(req)) != MHD_YES || req->status != 0))
		goto audit;
	if (authn_stage(req->route) == AUTHN_BODY && !authn_check(req, &err)) {
		json_t *ext = req->refusal_ext;

		req->refusal_ext = NULL;
		ret = reply_problem_ext(__FILE__, __LINE__, req, err, ext, req->refusal_detail);
		goto audit;
	}
	req->dispatched = true;
	ret = (enum MHD_Result)req->route->handler(req);
audit:
	/* Audit whatever the outcome, refusals included; a suspended
	 * request is audited when it answers. */
	if (req->authenticated && is_mutating(req->method) && req->status != 0)
		audit_record(req->srv, req);
	return ret;
}

/* Whether the client will send a body we have not read yet. */
static bool request_has_body(struct request *req)
{
	const char *len = request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return request_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
	       (len != NULL && strtoull(len, NULL, 10) > 0);
}

enum MHD_Result request_access(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **req_cls)
{
	struct server *srv = cls;
	struct request *req = *req_cls;

	if (req == NULL) {
		req = request_new(srv, conn, url, method);
		if (req == NULL)
			return MHD_NO;
		*req_cls = req;
		atomic_fetch_add(&srv->active_requests, 1);
		log_set_request_id(req->id);
		if (!edge_screen(req, version))
			return req->status != 0 ? MHD_YES : MHD_NO;
		request_admit(req);
		/* A refused request with a body is answered now, before
		 * "100 Continue": the client never uploads it, and the
		 * connection closes, which is right for a refusal. Without a
		 * body the answer waits for the next call, which keeps the
		 * connection alive (notes/mhd.md). */
		if (req->refused && request_has_body(req))
			return request_answer(req);
		return MHD_YES;
	}
	log_set_request_id(req->id);
	if (*upload_data_size > 0) {
		request_take_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		/* MHD refuses a response queued mid-upload and would close
		 * with no reply at all, so a refusal goes out when the body
		 * ends. */
		return MHD_YES;
	}
	if (req->status != 0)
		return MHD_YES;
	return request_answer(req);
}

void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		       enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct request *req = *req_cls;
	struct timespec end;

	(void)conn;
	(void)toe;
	if (req == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	double seconds = (double)(end.tv_sec - req->start.tv_sec) +
			 (double)(end.tv_nsec - req->start.tv_nsec) / 1e9;
	metrics_observe(srv->metrics, req->route, req->status, seconds);
	if (req->status >= 500)
		log_kv(LOG_WARN, "request answered with a server error", "method", req->method,
		       "path", req->path, NULL);
	log_set_request_id(NULL);
	request_free(req);
	*req_cls = NULL;
	atomic_fetch_sub(&srv->active_requests, 1);
}
