/* PATCH /devices/{deviceId}/twin/reported: the device merges a patch (RFC
 * 7396, null deletes) into its reported properties, under the operator
 * side's limits and $version rules (server/twin_doc.c): in one
 * transaction lock the twin, honour If-Match, merge, check the size, write
 * with a new etag and versions, announce it and record it in the history.
 * A refused patch changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/twins.h"

struct reported_update {
	struct request *req;
	const char *if_match;
	char now[40];
	struct store_twin row; /* the twin as written */
	enum err_code err;     /* set when refused: nothing was written */
	struct twin_err te;
};

/* Merges the patch into u->row.reported in memory; sets u->err when a
 * limit refuses it. */
static int reported_apply(struct reported_update *u)
{
	json_t *rep = json_loads(u->row.reported, 0, NULL);
	char etag[16], *text = NULL;
	enum twin_fault f = TWIN_NOMEM;

	if (rep == NULL)
		goto out;
	if ((f = twin_merge_props(rep, u->req->json, u->now, false, false)) != TWIN_OK ||
	    (f = twin_check_size(rep, TWIN_PROPS_MAX, "/properties/reported", &u->te)) != TWIN_OK)
		goto out;
	f = TWIN_NOMEM;
	if ((text = json_dumps(rep, JSON_COMPACT)) == NULL || twin_etag_new(etag) != 0)
		goto out;
	free(u->row.reported);
	free(u->row.etag);
	u->row.reported = text;
	text = NULL;
	u->row.etag = strdup(etag);
	u->row.version++;
	f = u->row.etag ? TWIN_OK : TWIN_NOMEM;
out:
	free(text);
	json_decref(rep);
	if (f != TWIN_OK)
		u->err = twin_fault_err(f);
	return f == TWIN_OK ? 0 : -1;
}

static enum store_qs reported_cb(struct store_conn *c, void *cls)
{
	struct reported_update *u = cls;
	enum store_qs qs;

	store_twin_free(&u->row);
	u->err = 0;
	qs = store_lock_twin(c, u->req->params[0], &u->row);
	if (qs <= 0) {
		if (qs == STORE_NONE)
			u->err = ERR_TWIN_NOT_FOUND;
		return qs;
	}
	if (!twin_if_match(u->if_match, u->row.etag)) {
		u->err = ERR_TWIN_ETAG_MISMATCH;
		return STORE_NONE;
	}
	if (reported_apply(u) != 0)
		return STORE_NONE;
	return twin_store_change(c, u->req, &u->row, false, "reported", NULL);
}

int h_twins_reported(struct request *req)
{
	struct reported_update u = {.req = req};
	struct twin_err te;
	enum store_qs qs;
	int ret;

	if (!json_is_object(req->json))
		return reply_problem(req, ERR_TWIN_BAD_REPORTED, "the body must be a JSON object");
	if (twin_check_patch(req->json, "/properties/reported", &te) != TWIN_OK)
		return reply_problem(req, twin_fault_err(te.fault), "%s: %s", te.where, te.msg);
	u.if_match = request_header(req, "If-Match");
	twin_now(u.now);
	qs = store_run_txn(req->srv->store, reported_cb, &u);
	if ((ret = twin_write_refused(req, qs, u.err, &u.te, &u.row)) != -1)
		return ret;
	ret = twin_reply_view(req, &u.row, TWIN_VIEW_REPORTED);
	store_twin_free(&u.row);
	return ret;
}
