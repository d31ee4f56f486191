/* Building and queueing responses. Every response carries X-Request-Id; an
 * error reply's body and headers come from its family in err_table. */
#include "server/reply.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/utf8.h"
#include "server/request.h"
#include "server/server.h"

/* Only a plain host[:port] goes into the Link header: the value is the
 * client's Host, and anything else could smuggle header syntax. */
static int host_is_plain(const char *host)
{
	size_t n = host ? strlen(host) : 0;

	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)host[i]) && strchr(".-:[]", host[i]) == NULL)
			return 0;
	return 1;
}

/* RFC 8555 section 6.5 and 7.1: every ACME reply carries a fresh nonce
 * (once the ACME module fills the hook) and a link to the directory. */
static void reply_add_acme_headers(struct request *req, struct MHD_Response *resp)
{
	char nonce[ACME_NONCE_MAX], link[320];
	const char *host =
		MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	struct server *srv = req->srv;

	if (srv != NULL && srv->acme_nonce != NULL && srv->acme_nonce(srv, nonce) != NULL)
		MHD_add_response_header(resp, "Replay-Nonce", nonce);
	if (srv != NULL && srv->acme_base[0] != '\0') {
		if (snprintf(link, sizeof link, "<%s%s>;rel=\"index\"", srv->acme_base,
			     REPLY_ACME_DIRECTORY_PATH) < (int)sizeof link)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_LINK, link);
	} else if (host_is_plain(host) &&
		   snprintf(link, sizeof link, "<https://%s%s>;rel=\"index\"", host,
			    REPLY_ACME_DIRECTORY_PATH) < (int)sizeof link)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LINK, link);
}

static enum MHD_Result reply_queue_as(struct request *req, unsigned status,
				      struct MHD_Response *resp, enum err_family family)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "X-Request-Id", req->id);
	if (family == ERR_FAMILY_ACME)
		reply_add_acme_headers(req, resp);
	ret = MHD_queue_response(req->conn, status, resp);
	if (ret == MHD_YES)
		req->status = status;
	return ret;
}

enum MHD_Result reply_queue(struct request *req, unsigned status, struct MHD_Response *resp)
{
	return reply_queue_as(req, status, resp, req->family);
}

struct MHD_Response *reply_response_owning(char *data, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);

	if (resp == NULL)
		free(data);
	return resp;
}

/* Queues data (taken over: freed here on every path) as ctype, with an
 * optional ETag and Cache-Control. */
static enum MHD_Result reply_buffer(struct request *req, unsigned status, const char *ctype,
				    char *data, size_t len, const char *etag, const char *cache)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if ((resp = reply_response_owning(data, len)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (etag != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (cache != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	ret = reply_queue(req, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_json_cached(struct request *req, unsigned status, json_t *body,
					 const char *cache)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(body);
	if (text == NULL)
		return MHD_NO; /* out of memory: MHD closes the connection */
	return reply_buffer(req, status, "application/json", text, strlen(text), NULL, cache);
}

enum MHD_Result reply_json_steal(struct request *req, unsigned status, json_t *body)
{
	return reply_json_cached(req, status, body, NULL);
}

enum MHD_Result reply_json_private(struct request *req, unsigned status, json_t *body)
{
	return reply_json_cached(req, status, body, "no-store");
}

enum MHD_Result reply_bytes(struct request *req, unsigned status, const char *ctype,
			    const void *data, size_t len, const char *etag)
{
	/* One spare byte so that an empty body still gets its own buffer. */
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return MHD_NO;
	if (len > 0)
		memcpy(copy, data, len);
	return reply_buffer(req, status, ctype, copy, len, etag, NULL);
}

enum MHD_Result reply_text(struct request *req, unsigned status, const char *ctype,
			   const char *text, size_t len)
{
	return reply_bytes(req, status, ctype, text, len, NULL);
}

enum MHD_Result reply_empty(struct request *req, unsigned status)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = reply_queue(req, status, resp);

	MHD_destroy_response(resp);
	return ret;
}

/* A generic Orchard code (not found, bad JSON, database down) raised on an
 * ACME or DPS route speaks that protocol: the request's family wins. */
static enum err_family reply_wire_family(const struct err_info *e, const struct request *req)
{
	return e->family == ERR_FAMILY_ORCHARD ? req->family : e->family;
}

static const char *acme_generic_type(unsigned status)
{
	if (status >= 500)
		return "urn:ietf:params:acme:error:serverInternal";
	if (status == 401 || status == 403)
		return "urn:ietf:params:acme:error:unauthorized";
	if (status == 429)
		return "urn:ietf:params:acme:error:rateLimited";
	return "urn:ietf:params:acme:error:malformed";
}

/* Azure's "Generic" codes are status * 1000; for 400 and 401 its services
 * answer ArgumentInvalid and IotHubUnauthorizedAccess, which clients know. */
static unsigned long dps_generic_code(unsigned status)
{
	if (status == 400)
		return 400004;
	if (status == 401)
		return 401002;
	return status * 1000UL;
}

/* Azure's timestampUtc: UTC with seven fractional digits (.NET ticks). */
static void dps_timestamp(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%07ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 100);
}

/* Builds the body for e in family; ext (stolen) joins a problem document. */
static char *reply_error_body(struct request *req, const struct err_info *e, enum err_family family,
			      json_t *ext, const char *detail, unsigned long *azure_code)
{
	json_t *body = NULL;
	char *text = NULL, when[80];
	const char *type = e->type;

	*azure_code = 0;
	if (family == ERR_FAMILY_DPS) {
		*azure_code = e->family == ERR_FAMILY_DPS ? e->azure_code
							  : dps_generic_code(e->http_status);
		dps_timestamp(when, sizeof when);
		body = json_pack("{s:I, s:s, s:s, s:s}", "errorCode", (json_int_t)*azure_code,
				 "trackingId", req->id, "message", detail, "timestampUtc", when);
	} else {
		if (family == ERR_FAMILY_ACME && e->family != ERR_FAMILY_ACME)
			type = acme_generic_type(e->http_status);
		body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", e->title,
				 "status", (int)e->http_status, "detail", detail, "request_id",
				 req->id);
		if (body != NULL && ext != NULL && json_object_update_missing(body, ext) != 0)
			goto out;
	}
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(ext);
	json_decref(body);
	return text;
}

enum MHD_Result reply_problem_ext(const char *file, int line, struct request *req,
				  enum err_code err, json_t *ext, const char *detail)
{
	const struct err_info *e = &err_table[err];
	enum err_family family = reply_wire_family(e, req);
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned long azure_code;
	char code[24];
	char *text;

	if (detail == NULL || detail[0] == '\0')
		detail = e->title;
	/* Whose fault: ours for a 5xx, the peer's for a 4xx (sampled). */
	snprintf(code, sizeof code, "%u", e->code);
	if (e->http_status >= 500)
		log_bug_at(file, line, "error reply", "code", code, "title", e->title, "detail",
			   detail, NULL);
	else
		log_bad_input_at(file, line, "refused", "code", code, "title", e->title, "detail",
				 detail, NULL);
	text = reply_error_body(req, e, family, ext, detail, &azure_code);
	if (text == NULL)
		return MHD_NO;
	if ((resp = reply_response_owning(text, strlen(text))) == NULL)
		return MHD_NO;
	if (family == ERR_FAMILY_DPS) {
		snprintf(code, sizeof code, "%lu", azure_code);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/json; charset=utf-8");
		MHD_add_response_header(resp, "x-ms-error-code", code);
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/problem+json");
	}
	if (req->allow[0] != '\0' && e->http_status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
	if (e->http_status == 503 || e->http_status == 429) {
		char after[24] = "1";
		if (req->retry_after_s > 0)
			snprintf(after, sizeof after, "%ld", req->retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
	}
	if (req->problem_location != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, req->problem_location);
	if (req->problem_content_range != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE,
					req->problem_content_range);
	if (req->challenge != NULL) /* set by the route's authentication kind */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, req->challenge);
	ret = reply_queue_as(req, e->http_status, resp,
			     family == ERR_FAMILY_ACME ? family : req->family);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result reply_problem_at(const char *file, int line, struct request *req, enum err_code err,
				 const char *fmt, ...)
{
	char detail[512] = "";

	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof detail, fmt, ap);
		va_end(ap);
		/* The detail may quote the client (a Content-Type) or be cut
		 * inside a character; jansson refuses a string not UTF-8. */
		utf8_scrub(detail);
	}
	return reply_problem_ext(file, line, req, err, NULL, detail);
}
