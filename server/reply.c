/* Building and queueing responses. Every response carries X-Request-Id, and
 * every error is a problem+json whose type and status come from err_table. */
#include "server/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/utf8.h"
#include "server/request.h"

enum MHD_Result reply_queue(struct request *req, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "X-Request-Id", req->id);
	ret = MHD_queue_response(req->conn, status, resp);
	if (ret == MHD_YES)
		req->status = status;
	return ret;
}

static enum MHD_Result reply_buffer(struct request *req, unsigned status, const char *ctype,
				    char *data, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = reply_queue(req, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result reply_json_steal(struct request *req, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(body);
	if (text == NULL)
		return MHD_NO; /* out of memory: MHD closes the connection */
	return reply_buffer(req, status, "application/json", text, strlen(text));
}

enum MHD_Result reply_text(struct request *req, unsigned status, const char *ctype,
			   const char *text, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return MHD_NO;
	memcpy(copy, text, len);
	return reply_buffer(req, status, ctype, copy, len);
}

enum MHD_Result reply_empty(struct request *req, unsigned status)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = reply_queue(req, status, resp);

	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result reply_problem(struct request *req, enum err_code err, const char *fmt, ...)
{
	const struct err_info *e = &err_table[err];
	char detail[512] = "";
	json_t *body;
	char *text;

	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof detail, fmt, ap);
		va_end(ap);
		/* The detail may quote the client (a Content-Type) or be cut
		 * inside a character; jansson refuses a string not UTF-8. */
		utf8_scrub(detail);
	}
	body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", e->type, "title", e->title, "status",
			 (int)e->http_status, "detail", detail[0] ? detail : e->title, "request_id",
			 req->id);
	text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	if (text == NULL)
		return MHD_NO;
	if (e->http_status >= 500)
		log_kv(LOG_ERROR, "request failed", "type", e->type, "detail", detail, NULL);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
	if (req->allow[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
	if (e->http_status == 503)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (req->challenge != NULL) /* set by the route's authentication kind */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, req->challenge);
	enum MHD_Result ret = reply_queue(req, e->http_status, resp);
	MHD_destroy_response(resp);
	return ret;
}
