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

/* What a reply shows of a twin: all of it (the operator), all but tags
 * (the device's own GET), or one properties section alone (the device's
 * long poll and stream; its reported PATCH). */
enum twin_view { TWIN_VIEW_FULL, TWIN_VIEW_DEVICE, TWIN_VIEW_DESIRED, TWIN_VIEW_REPORTED };

/* t's view as JSON (new reference, NULL when out of memory). */
json_t *twin_render_view(const struct store_twin *t, enum twin_view view);

/* Queues 200 with the rendered twin and its ETag. */
int twin_reply(struct request *req, const struct store_twin *t);

/* Queues 200 with view of t and the twin's ETag. */
int twin_reply_view(struct request *req, const struct store_twin *t, enum twin_view view);
/* The same with the operator's `configurations` member (NULL: none). */
int twin_reply_with(struct request *req, const struct store_twin *t, enum twin_view view,
		    json_t *configurations);

/* Answers a write transaction's outcome: 503 when it failed (qs < 0),
 * else the refusal err (0: none, then returns -1 and queues nothing), with
 * te's place for a size refusal. Frees *row either way but on -1. */
int twin_write_refused(struct request *req, enum store_qs qs, enum err_code err,
		       const struct twin_err *te, struct store_twin *row);

/* Describes an accepted change of t (as written) for its history: who
 * (req's operator token or device), the sections written (comma-separated)
 * and the patch as sent (NULL: req->json). h->patch is malloc'd: free it.
 * 0, or -1 when out of memory. */
int twin_change_describe(struct request *req, const struct store_twin *t, const char *sections,
			 const json_t *patch, struct store_twin_change *h);

/* Inside the writing transaction: writes t over the stored twin (t
 * exists, when insert is false) or creates it (insert), with its history
 * entry as twin_change_describe() gives it. */
enum store_qs twin_store_change(struct store_conn *c, struct request *req,
				const struct store_twin *t, bool insert, const char *sections,
				const json_t *patch);

/* Reads the twin of device_id into *out (freed first; store_twin_free()
 * it), in a statement of its own. */
enum store_qs twin_select(struct store *s, const char *device_id, struct store_twin *out);

/* A device's reported PATCH, whatever carried it (HTTPS, MQTT): in one
 * transaction lock the twin, honour if_match, merge the patch (RFC 7396,
 * null deletes) under twin_doc's limits, write with a new etag and
 * versions, announce it and record it in the history as the device's. */
struct twin_reported {
	const char *device_id; /* the twin's, and the acting device */
	const json_t *patch;
	const char *if_match; /* NULL: none */
	char now[40];
	struct store_twin row; /* the twin as written: store_twin_free() */
	enum err_code err;  /* set when refused (patch, limits, etag, no twin): nothing written */
	struct twin_err te; /* the limit's place, with err */
};

/* Runs u: qs < 0 when the store failed, else u->err says whether the patch
 * was refused (0: written, u->row is the twin as written). */
enum store_qs twin_reported_update(struct store *s, struct twin_reported *u);

/* Whether an If-Match header value (NULL: absent) lets a write proceed
 * on a twin whose etag is etag (NULL: no twin). */
bool twin_if_match(const char *header, const char *etag);

/* A new random etag (12 base64 characters) into out. */
int twin_etag_new(char out[16]);

/* The registry code for a twin_doc fault. */
enum err_code twin_fault_err(enum twin_fault f);

#endif
