/* The server side of json_spec: a refused field becomes an error reply that
 * names it, in the protocol the request speaks. */
#include "server/spec.h"

#include <stdio.h>

#include "common/utf8.h"
#include "server/reply.h"
#include "server/request.h"

enum spec_status spec_parse_body_at(const char *file, int line, struct request *req,
				    struct json_spec *spec)
{
	struct json_spec_error err;
	enum MHD_Result ret;
	char detail[sizeof err.pointer + sizeof err.reason + 4];

	switch (json_spec_parse(req->json, spec, &err)) {
	case JSON_SPEC_OK: return SPEC_OK;
	case JSON_SPEC_NOMEM:
		ret = reply_problem_ext(file, line, req, ERR_INTERNAL, NULL,
					"out of memory parsing the body");
		break;
	case JSON_SPEC_INVALID:
	default:
		/* The pointer quotes the client's member names. */
		snprintf(detail, sizeof detail, "%s: %s", err.pointer[0] ? err.pointer : "body",
			 err.reason);
		utf8_scrub(detail);
		utf8_scrub(err.pointer);
		ret = reply_problem_ext(file, line, req, ERR_INVALID_FIELD,
					json_pack("{s:s}", "pointer", err.pointer), detail);
		break;
	}
	return ret == MHD_YES ? SPEC_REPLIED : SPEC_FAILED;
}
