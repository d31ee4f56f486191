/* Parsing a request's JSON body with a json_spec array: on a bad field the
 * reply (400, naming the field by JSON pointer) is queued here. */
#ifndef ORCHARD_SPEC_H
#define ORCHARD_SPEC_H
#include "common/json_spec.h"

struct request;

/* Taler's tri-state: go on, stop having replied, stop without a reply. */
enum spec_status { SPEC_FAILED = -1, SPEC_REPLIED = 0, SPEC_OK = 1 };

/* Parses req->json with spec. SPEC_OK: every field is set and the caller
 * owes one json_spec_free(spec). SPEC_REPLIED: nothing to free; a 400
 * (ERR_INVALID_FIELD, rendered in the request's family, with a "pointer"
 * member in problem documents) or a 500 when out of memory was queued, so
 * the handler returns MHD_YES. SPEC_FAILED: no reply could be queued; the
 * handler returns MHD_NO. Logs at the caller's file:line. */
#define spec_parse_body(req, spec) spec_parse_body_at(__FILE__, __LINE__, (req), (spec))
enum spec_status spec_parse_body_at(const char *file, int line, struct request *req,
				    struct json_spec *spec);

/* What a handler returns for a status other than SPEC_OK. */
#define SPEC_HANDLER_RESULT(st) ((st) == SPEC_REPLIED ? MHD_YES : MHD_NO)

#endif
