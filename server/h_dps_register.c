/* The DPS device API: register (PUT .../register), the operation poll
 * (GET .../operations/{operationId}) and the registration status query
 * (POST /{idScope}/registrations/{registrationId}), in Azure's shapes. The
 * device SAS was checked before the body was read (AUTH_DEVICE_SAS), so
 * req->dev names the enrollment whose key signed it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "server/dps.h"
#include "server/dps_sas.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/dps.h"
#include "server/store/twins.h"

/* Seconds a client waits before polling the operation: the C SDK takes
 * integers from 1 to 300. */
#define DPS_RETRY_AFTER "1"

/* Azure's registrationState for row r (the service API serves it too). */
json_t *dps_registration_state_json(const struct store_dps_registration *r)
{
	char created[TIMEFMT_RFC3339_LEN], updated[TIMEFMT_RFC3339_LEN];
	json_t *o = json_object();

	timefmt_rfc3339(r->created_at, created);
	timefmt_rfc3339(r->updated_at, updated);
	json_object_set_new(o, "registrationId", json_string(r->registration_id));
	json_object_set_new(o, "createdDateTimeUtc", json_string(created));
	if (r->assigned_hub != NULL)
		json_object_set_new(o, "assignedHub", json_string(r->assigned_hub));
	if (strcmp(r->status, "assigned") == 0)
		json_object_set_new(o, "deviceId", json_string(r->device_id));
	json_object_set_new(o, "status", json_string(r->status));
	if (r->substatus != NULL)
		json_object_set_new(o, "substatus", json_string(r->substatus));
	if (r->error_code != 0) {
		json_object_set_new(o, "errorCode", json_integer(r->error_code));
		json_object_set_new(o, "errorMessage",
				    json_string(r->error_message ? r->error_message : ""));
	}
	json_object_set_new(o, "lastUpdatedDateTimeUtc", json_string(updated));
	json_object_set_new(o, "etag", json_string(r->etag));
	if (r->payload_json != NULL)
		json_object_set_new(o, "payload", json_loads(r->payload_json, 0, NULL));
	return o;
}

struct reg {
	struct request *req;
	char hub[256];
	char operation_id[80], etag[33];
	struct store_dps_registration out;
	bool gone; /* the enrollment was deleted since the SAS was checked */
};

static enum store_qs register_cb(struct store_conn *c, void *cls)
{
	struct reg *g = cls;
	const struct device *dev = &g->req->dev;
	struct store_dps_enrollment e;
	enum store_qs qs;

	g->gone = false;
	store_dps_registration_free(&g->out);
	qs = store_select_dps_enrollment(c, dev->enrollment_kind, dev->enrollment_id, &e);
	if (qs == STORE_NONE)
		g->gone = true;
	if (qs != STORE_ONE)
		return qs;
	bool enabled = strcmp(e.provisioning_status, "enabled") == 0;
	struct store_dps_registration r = {
		.registration_id = (char *)dev->registration_id,
		.device_id = e.device_id ? e.device_id : (char *)dev->registration_id,
		.enrollment_kind = e.kind,
		.enrollment_id = e.id,
		.status = enabled ? "assigned" : "disabled",
		.substatus = enabled ? "initialAssignment" : NULL,
		.assigned_hub = !enabled	      ? NULL
				: e.iot_hub_host_name ? e.iot_hub_host_name
						      : g->hub,
		.operation_id = g->operation_id,
		.etag = g->etag,
	};
	qs = store_upsert_dps_registration(c, &r, &g->out);
	/* An assigned device gets its twin, seeded with initialTwin, in the
	 * same transaction; a twin that exists (registering again) is kept. */
	if (qs == STORE_ONE && enabled) {
		struct store_twin t;
		if (dps_twin_seed(r.device_id, e.initial_twin_json, &t) != 0) {
			qs = STORE_HARD;
		} else {
			enum store_qs tq = store_insert_twin(c, &t);
			/* A new twin's first history entry: what DPS seeded. */
			struct store_twin_change h = {
				.device_id = t.device_id,
				.version = t.version,
				.sections = (char *)"tags,desired",
				.actor_kind = (char *)"dps",
				.actor = (char *)dev->registration_id,
				.patch = e.initial_twin_json ? e.initial_twin_json : (char *)"{}",
			};
			if (tq == STORE_ONE)
				tq = store_insert_twin_history(c, &h);
			if (tq < 0)
				qs = tq;
			store_twin_free(&t);
		}
	}
	store_dps_enrollment_free(&e);
	return qs;
}

int h_dps_register(struct request *req)
{
	const char *body_id = NULL;
	json_t *payload = NULL;
	struct json_spec spec[] = {
		json_spec_string("registrationId", &body_id, DPS_ID_MAX, JSON_SPEC_OPTIONAL),
		json_spec_object("payload", &payload, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct reg g = {.req = req};
	char opid[33];
	enum spec_status st;
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if (body_id != NULL && strcmp(body_id, req->dev.registration_id) != 0)
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
				     "/registrationId: differs from the path's");
	dps_hub_host(req->srv, g.hub, sizeof g.hub);
	if (dps_random_hex(opid, 16) != 0 || dps_random_hex(g.etag, 16) != 0)
		return reply_problem(req, ERR_DPS_INTERNAL, "no randomness");
	snprintf(g.operation_id, sizeof g.operation_id, "4.%s", opid);
	qs = store_run_txn(req->srv->store, register_cb, &g);
	if (qs == STORE_CONFLICT)
		ret = reply_problem(req, ERR_DPS_CONFLICT,
				    "the enrollment's deviceId belongs to another registration");
	else if (qs < 0)
		ret = reply_problem(req, ERR_DPS_UNAVAILABLE, "could not record the registration");
	else if (g.gone)
		ret = reply_problem(req, ERR_DPS_UNAUTHORIZED, NULL);
	else
		ret = dps_reply(req, 202,
				json_pack("{s:s, s:s}", "operationId", g.out.operation_id, "status",
					  "assigning"),
				NULL, false, DPS_RETRY_AFTER);
	store_dps_registration_free(&g.out);
	return ret;
}

struct look {
	const char *registration_id;
	struct store_dps_registration row;
};

static enum store_qs look_cb(struct store_conn *c, void *cls)
{
	struct look *l = cls;

	return store_select_dps_registration(c, l->registration_id, &l->row);
}

/* Reads the caller's registration; replies and returns false when none. */
static bool look_up(struct request *req, struct look *l, int *ret)
{
	enum store_qs qs;

	l->registration_id = req->dev.registration_id;
	qs = store_run(req->srv->store, look_cb, l);
	if (qs < 0)
		*ret = reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	else if (qs == STORE_NONE)
		*ret = reply_problem(req, ERR_DPS_REGISTRATION_NOT_FOUND, "%s has not registered",
				     l->registration_id);
	return qs == STORE_ONE;
}

int h_dps_operation(struct request *req)
{
	struct look l;
	int ret;

	if (!dps_api_version_ok(req, &ret) || !look_up(req, &l, &ret))
		return ret;
	if (strcmp(l.row.operation_id, req->params[2]) != 0)
		ret = reply_problem(req, ERR_DPS_NOT_FOUND, "no operation %s for %s",
				    req->params[2], l.registration_id);
	else if (strcmp(l.row.status, "assigning") == 0)
		ret = dps_reply(req, 202,
				json_pack("{s:s, s:s}", "operationId", l.row.operation_id, "status",
					  l.row.status),
				NULL, false, DPS_RETRY_AFTER);
	else
		ret = dps_reply(req, 200,
				json_pack("{s:s, s:s, s:o}", "operationId", l.row.operation_id,
					  "status", l.row.status, "registrationState",
					  dps_registration_state_json(&l.row)),
				NULL, false, NULL);
	store_dps_registration_free(&l.row);
	return ret;
}

int h_dps_registration_status(struct request *req)
{
	struct look l;
	int ret;

	if (!dps_api_version_ok(req, &ret) || !look_up(req, &l, &ret))
		return ret;
	ret = dps_reply(req, 200, dps_registration_state_json(&l.row), l.row.etag, false, NULL);
	store_dps_registration_free(&l.row);
	return ret;
}
