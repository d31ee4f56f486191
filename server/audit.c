/* Writes one audit row per mutating operator request. A failure to write is
 * logged loudly with the whole entry, so the trail survives in the logs. */
#include "server/audit.h"

#include <stdio.h>

#include "common/log.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/operators.h"

void audit_record(struct server *srv, struct request *req)
{
	struct audit_entry e = {req->op.sub, req->op.jti, req->method,
				req->path,   req->id,	  req->status};
	char status[8];

	if (store_insert_audit(srv->store, &e) >= 0)
		return;
	snprintf(status, sizeof status, "%u", req->status);
	log_kv(LOG_ERROR, "audit entry not stored", "subject", e.subject, "jti", e.jti, "method",
	       e.method, "path", e.path, "status", status, NULL);
}
