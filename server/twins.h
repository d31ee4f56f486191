/* What the twin handlers share: the document as served, If-Match, etags,
 * and the twin_doc faults as registry codes. */
#ifndef ORCHARD_TWINS_H
#define ORCHARD_TWINS_H
#include <jansson.h>
#include <stdbool.h>

#include "common/errors_gen.h"
#include "server/store/twins.h"
#include "server/twin_doc.h"

struct request;

/* The twin as GET /twins/{deviceId} serves it (new reference, NULL when
 * out of memory or the row's JSON is corrupt). */
json_t *twin_render(const struct store_twin *t);

/* Queues 200 with the rendered twin and its ETag. */
int twin_reply(struct request *req, const struct store_twin *t);

/* Whether an If-Match header value (NULL: absent) lets a write proceed
 * on a twin whose etag is etag (NULL: no twin). */
bool twin_if_match(const char *header, const char *etag);

/* A new random etag (12 base64 characters) into out. */
int twin_etag_new(char out[16]);

/* The registry code for a twin_doc fault. */
enum err_code twin_fault_err(enum twin_fault f);

#endif
