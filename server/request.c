/* The request pipeline: MHD calls request_access() several times per
 * request; the first call only sets up, the body is collected into a
 * bounded buffer, and the last call dispatches. Replies are never queued on
 * the first call, which would make MHD close a keep-alive connection. */
#include "server/request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "common/jsonb.h"
#include "common/log.h"
#include "server/audit.h"
#include "server/auth.h"
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
	buf_init(&req->body, (size_t)srv->cfg.body_limit);
	return req;
}

static void request_free(struct request *req)
{
	for (int i = 0; i < req->nparams; i++)
		free(req->params[i]);
	buf_free(&req->body);
	json_decref(req->json);
	free(req->path);
	free(req);
}

const char *request_arg(struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool is_json_type(const char *ctype)
{
	size_t n = strlen("application/json");

	/* Accept parameters such as "; charset=utf-8" (DPS clients send it). */
	return ctype != NULL && strncasecmp(ctype, "application/json", n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static enum MHD_Result request_parse_body(struct request *req)
{
	json_error_t jerr;
	const char *ctype = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_CONTENT_TYPE);

	if (!is_json_type(ctype)) {
		return reply_problem(req, ERR_UNSUPPORTED_MEDIA_TYPE,
				     "expected application/json, got %s", ctype ? ctype : "none");
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

/* Everything after authentication: body checks, then the handler. */
static enum MHD_Result request_handle(struct request *req)
{
	enum MHD_Result ret;

	if (req->body_too_large)
		return reply_problem(req, ERR_BODY_TOO_LARGE, "the limit is %ld bytes",
				     req->srv->cfg.body_limit);
	/* A refusal that could not be queued (MHD_NO) must not fall through
	 * to the handler as if the body had been accepted. */
	if (req->route->body == BODY_JSON &&
	    ((ret = request_parse_body(req)) != MHD_YES || req->status != 0))
		return ret;
	return (enum MHD_Result)req->route->handler(req);
}

static enum MHD_Result request_dispatch(struct request *req)
{
	enum err_code err;
	enum MHD_Result ret;

	if (strlen(req->path) > ROUTE_MAX_URL)
		return reply_problem(req, ERR_URI_TOO_LONG, "the limit is %d bytes", ROUTE_MAX_URL);
	switch (route_find(req->method, req->path, &req->route, req->params, &req->nparams,
			   req->allow, sizeof req->allow)) {
	case ROUTE_NO_PATH: return reply_problem(req, ERR_NOT_FOUND, NULL);
	case ROUTE_NO_METHOD:
		return reply_problem(req, ERR_METHOD_NOT_ALLOWED, "allowed: %s", req->allow);
	case ROUTE_FOUND: break;
	}
	if (req->route->scope != SCOPE_NONE) {
		const char *authz = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
								MHD_HTTP_HEADER_AUTHORIZATION);
		if (!auth_check(req->srv->auth, authz, req->route->scope, &req->op, &err))
			return reply_problem(req, err, NULL);
		req->authenticated = true;
	}
	ret = request_handle(req);
	/* Audit whatever the outcome, refusals included. */
	if (req->authenticated && is_mutating(req->method) && req->status != 0)
		audit_record(req->srv, req);
	return ret;
}

enum MHD_Result request_access(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **req_cls)
{
	struct server *srv = cls;
	struct request *req = *req_cls;

	(void)version;
	if (req == NULL) {
		req = request_new(srv, conn, url, method);
		if (req == NULL)
			return MHD_NO;
		*req_cls = req;
		atomic_fetch_add(&srv->active_requests, 1);
		const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_CONTENT_LENGTH);
		/* An announced oversized body is refused before "100 Continue",
		 * and the connection closes: the one reply worth queueing now. */
		if (len != NULL &&
		    strtoull(len, NULL, 10) > (unsigned long long)srv->cfg.body_limit) {
			req->body_too_large = true;
			log_set_request_id(req->id);
			return request_dispatch(req);
		}
		return MHD_YES;
	}
	log_set_request_id(req->id);
	if (*upload_data_size > 0) {
		if (!req->body_too_large &&
		    buf_add(&req->body, upload_data, *upload_data_size) != 0) {
			req->body_too_large = true;
			buf_free(&req->body);
		}
		*upload_data_size = 0;
		/* Past the limit (a chunked body has no Content-Length to
		 * refuse early) the rest is dropped: MHD refuses a response
		 * queued mid-upload and would close with no reply at all, so
		 * the 413 goes out when the body ends. */
		return MHD_YES;
	}
	if (req->status != 0)
		return MHD_YES;
	return request_dispatch(req);
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
