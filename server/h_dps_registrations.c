/* The DPS service API's registration states (/registrations/{id}): read
 * and delete, with If-Match. Deleting one lets the device register afresh;
 * its twin stays. */
#include "server/dps.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/dps.h"

struct reg_op {
	const char *id, *if_match;
	struct store_dps_registration row;
	bool missing, stale;
};

static enum store_qs get_cb(struct store_conn *c, void *cls)
{
	struct reg_op *o = cls;

	return store_select_dps_registration(c, o->id, &o->row);
}

int h_dps_registration_get(struct request *req)
{
	struct reg_op o = {.id = req->params[0]};
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	qs = store_run(req->srv->store, get_cb, &o);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_DPS_REGISTRATION_NOT_FOUND, "no registration %s",
				     o.id);
	ret = dps_reply(req, 200, dps_registration_state_json(&o.row), o.row.etag, false, NULL);
	store_dps_registration_free(&o.row);
	return ret;
}

static enum store_qs del_cb(struct store_conn *c, void *cls)
{
	struct reg_op *o = cls;
	enum store_qs qs = store_delete_dps_registration(c, o->id, o->if_match);

	o->missing = o->stale = false;
	if (qs != STORE_NONE)
		return qs;
	store_dps_registration_free(&o->row);
	qs = store_select_dps_registration(c, o->id, &o->row);
	o->missing = qs == STORE_NONE;
	o->stale = qs == STORE_ONE;
	return qs < 0 ? qs : STORE_NONE;
}

int h_dps_registration_delete(struct request *req)
{
	char if_match[80];
	struct reg_op o = {.id = req->params[0]};
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	o.if_match = dps_if_match(req, if_match, sizeof if_match);
	qs = store_run_txn(req->srv->store, del_cb, &o);
	store_dps_registration_free(&o.row);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	if (o.missing)
		return reply_problem(req, ERR_DPS_REGISTRATION_NOT_FOUND, "no registration %s",
				     o.id);
	if (o.stale)
		return reply_problem(req, ERR_DPS_PRECONDITION_FAILED,
				     "If-Match does not match the registration's etag");
	return reply_empty(req, 204);
}

struct reg_page {
	const char *group_id;
	struct dps_page pg;
	struct store_dps_registration_list rows;
};

static enum store_qs page_cb(struct store_conn *c, void *cls)
{
	struct reg_page *p = cls;

	store_dps_registration_list_free(&p->rows);
	return store_select_dps_registration_page(c, p->group_id, p->pg.after, p->pg.limit + 1,
						  &p->rows);
}

static json_t *state_item(const void *rows, int i)
{
	return dps_registration_state_json(&((const struct store_dps_registration *)rows)[i]);
}
static const char *state_id(const void *rows, int i)
{
	return ((const struct store_dps_registration *)rows)[i].registration_id;
}

/* POST /registrations/{enrollmentGroupId}/query: a group's devices. */
int h_dps_registration_query(struct request *req)
{
	struct reg_page p = {.group_id = req->params[0]};
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret) || !dps_page_args(req, &p.pg, &ret))
		return ret;
	qs = store_run(req->srv->store, page_cb, &p);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	ret = dps_reply_rows(req, &p.pg, p.rows.items, p.rows.n, state_item, state_id);
	store_dps_registration_list_free(&p.rows);
	return ret;
}
