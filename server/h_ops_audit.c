/* GET /ops/audit: the audit trail, newest first, in pages linked by a
 * keyset cursor (?before=ID) so paging stays stable while rows arrive. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/operators.h"

static int arg_long(struct request *req, const char *name, long long def, long long max,
		    long long *out)
{
	const char *v = request_arg(req, name);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && *out > 0 && *out <= max ? 0 : -1;
}

int h_ops_audit_list(struct request *req)
{
	long long limit, before;
	json_t *items = NULL;
	char next[64];

	if (arg_long(req, "limit", 50, 500, &limit) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..500");
	if (arg_long(req, "before", 0, 0x7fffffffffffffffLL, &before) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER,
				     "before must be a positive entry id");
	if (store_select_audit(req->srv->store, before, (int)limit, &items) < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	size_t n = json_array_size(items);
	json_t *body = json_pack("{s:o}", "items", items);
	if (body != NULL && n == (size_t)limit) {
		json_int_t last =
			json_integer_value(json_object_get(json_array_get(items, n - 1), "id"));
		snprintf(next, sizeof next, "/ops/audit?limit=%lld&before=%lld", limit,
			 (long long)last);
		json_object_set_new(body, "next", json_string(next));
	}
	return reply_json_steal(req, 200, body);
}
