/* Responses: JSON bodies and RFC 9457 problems. Handlers name an error
 * code; the status and type come from common/errors.tsv. */
#ifndef ORCHARD_REPLY_H
#define ORCHARD_REPLY_H
#include <jansson.h>
#include <microhttpd.h>

#include "common/errors_gen.h"

struct request;

/* Queues body (reference stolen, may be NULL only on OOM) with status. */
enum MHD_Result reply_json_steal(struct request *req, unsigned status, json_t *body);

/* Queues a problem+json for err with an optional printf-style detail. */
enum MHD_Result reply_problem(struct request *req, enum err_code err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Queues a bodyless response (204 and friends). */
enum MHD_Result reply_empty(struct request *req, unsigned status);

/* Queues text of the given content type, copied. */
enum MHD_Result reply_text(struct request *req, unsigned status, const char *ctype,
			   const char *text, size_t len);

/* Queues a prepared response, adding X-Request-Id; takes no ownership. */
enum MHD_Result reply_queue(struct request *req, unsigned status, struct MHD_Response *resp);

#endif
