/* Responses: JSON bodies, raw bytes, and errors. Handlers name an error
 * code; its family in common/errors.tsv fixes the status, body and headers. */
#ifndef ORCHARD_REPLY_H
#define ORCHARD_REPLY_H
#include <jansson.h>
#include <microhttpd.h>

#include "common/errors_gen.h"

struct request;

/* Where the ACME directory lives; every ACME reply links to it. */
#define REPLY_ACME_DIRECTORY_PATH "/acme/directory"

/* Queues body (reference stolen, may be NULL only on OOM) with status. */
enum MHD_Result reply_json_steal(struct request *req, unsigned status, json_t *body);

/* As reply_json_steal, for a body no cache may store (Cache-Control:
 * no-store): one that carries a token or a nonce. */
enum MHD_Result reply_json_private(struct request *req, unsigned status, json_t *body);

/* Queues an error reply for err in its family's wire format (the request's
 * own family when err is a generic Orchard code, see reply.c), with an
 * optional printf-style detail. Before replying it says whose fault it was,
 * at the caller's file:line: log_bug for a 5xx, log_bad_input for a 4xx. */
#define reply_problem(req, err, ...) reply_problem_at(__FILE__, __LINE__, (req), (err), __VA_ARGS__)
enum MHD_Result reply_problem_at(const char *file, int line, struct request *req, enum err_code err,
				 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* reply_problem with extension members (ext, stolen, may be NULL) merged
 * into a problem document body; a DPS body ignores them. */
enum MHD_Result reply_problem_ext(const char *file, int line, struct request *req,
				  enum err_code err, json_t *ext, const char *detail);

/* Queues a bodyless response (204 and friends). */
enum MHD_Result reply_empty(struct request *req, unsigned status);

/* Queues text of the given content type, copied. */
enum MHD_Result reply_text(struct request *req, unsigned status, const char *ctype,
			   const char *text, size_t len);

/* Queues len bytes of data (copied) as ctype, e.g. a certificate chain as
 * application/pem-certificate-chain or a depot package, with an ETag
 * header when etag is not NULL (the caller quotes it: "\"v1\""). */
enum MHD_Result reply_bytes(struct request *req, unsigned status, const char *ctype,
			    const void *data, size_t len, const char *etag);

/* A response that owns len bytes of data (malloc'd): data is freed on
 * every path, also when this returns NULL (out of memory). */
struct MHD_Response *reply_response_owning(char *data, size_t len);

/* Queues a prepared response, adding X-Request-Id and the request family's
 * headers (ACME: Replay-Nonce, Link); takes no ownership. */
enum MHD_Result reply_queue(struct request *req, unsigned status, struct MHD_Response *resp);

#endif
