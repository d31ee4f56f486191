/* PATCH /devices/{deviceId}/twin/reported: the device merges a patch (RFC
 * 7396, null deletes) into its reported properties, under the operator
 * side's limits and $version rules (server/twin_doc.c): in one
 * transaction lock the twin, honour If-Match, merge, check the size, write
 * with a new etag and versions, announce it and record it in the history.
 * A refused patch changes nothing. A committed one naming a new
 * agent.target has the depot compile for it (depot_twin_reported). */
#include "server/depot.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/twins.h"

int h_twins_reported(struct request *req)
{
	struct twin_reported u = {.device_id = req->params[0], .patch = req->json};
	enum store_qs qs;
	int ret;

	u.if_match = request_header(req, "If-Match");
	qs = twin_reported_update(req->srv->store, &u);
	if (qs >= 0 && u.err == ERR_TWIN_BAD_REPORTED)
		return reply_problem(req, u.err, "the body must be a JSON object");
	if (qs >= 0 && u.err != 0 && u.err != ERR_TWIN_TOO_LARGE && u.err != ERR_TWIN_NOT_FOUND &&
	    u.err != ERR_TWIN_ETAG_MISMATCH && u.te.where[0] != '\0') {
		store_twin_free(&u.row);
		return reply_problem(req, u.err, "%s: %s", u.te.where, u.te.msg);
	}
	if ((ret = twin_write_refused(req, qs, u.err, &u.te, &u.row)) != -1)
		return ret;
	depot_twin_reported(req->srv, u.patch); /* a new agent.target: compiled forms for it */
	ret = twin_reply_view(req, &u.row, TWIN_VIEW_REPORTED);
	store_twin_free(&u.row);
	return ret;
}
