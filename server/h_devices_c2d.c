/* /devices/{deviceId}/commands (IoT Hub's path for a device's queue): an
 * operator's cloud-to-device messages. POST queues one (IoT Hub's limits: 64 KB, 50 waiting, 48 h),
 * GET lists the device's queue and what was delivered or expired in the
 * last day, DELETE purges what waits. orchardd hands a message to the
 * device over MQTT when it listens (server/mqtt_c2d.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/timefmt.h"
#include "server/handlers.h"
#include "server/messages.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/c2d.h"
#include "server/twin_doc.h"

#define C2D_LIMIT_MAX 1000
#define ID_MAX 0x7fffffffffffffffLL

static const char *const c2d_status_names[] = {"queued", "delivered", "expired"};

/* One row as the operator API shows it (new reference). */
static json_t *c2d_json(const struct store_c2d *e)
{
	char enq[MESSAGES_TIME_LEN], exp[TIMEFMT_RFC3339_LEN], del[TIMEFMT_RFC3339_LEN];
	json_t *sys = json_loads(e->system_properties, 0, NULL);
	json_t *app = json_loads(e->properties, 0, NULL);
	json_t *j = messages_body_json(e->body, e->len);

	messages_time(e->enqueued_at, e->enqueued_us, enq);
	timefmt_rfc3339(e->expires_at, exp);
	if (sys == NULL || app == NULL || j == NULL ||
	    json_object_update_new(j, json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}", "id",
						(json_int_t)e->id, "status",
						c2d_status_names[e->status], "enqueuedTime", enq,
						"expiryTimeUtc", exp, "systemProperties", sys,
						"properties", app)) != 0) {
		json_decref(j);
		return NULL;
	}
	if (e->delivered_at != 0) {
		timefmt_rfc3339(e->delivered_at, del);
		json_object_set_new(j, "deliveredTime", json_string(del));
	}
	return j;
}

/* properties: an object of strings, none named with a leading $ (IoT Hub's
 * system properties) or holding a control character. */
static const char *props_check(json_t *props)
{
	const char *k;
	json_t *v;

	json_object_foreach (props, k, v) {
		if (!json_is_string(v))
			return "must be an object of strings";
		if (k[0] == '\0' || k[0] == '$')
			return "names are not empty and do not start with $";
		for (const char *p = k; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return "names hold no control characters";
	}
	return NULL;
}

struct c2d_send {
	struct store_c2d_new m;
	enum c2d_insert out;
	long long id, expires_at;
};

static enum store_qs send_cb(struct store_conn *c, void *cls)
{
	struct c2d_send *s = cls;

	return store_insert_c2d(c, &s->m, &s->out, &s->id, &s->expires_at);
}

int h_devices_c2d_send(struct request *req)
{
	const char *text = NULL, *b64 = NULL,
		   *sys_names[] = {"messageId", "correlationId", "contentType", "contentEncoding"};
	const char *sys_vals[4] = {NULL, NULL, NULL, NULL}, *why;
	json_t *props = NULL, *sys = NULL;
	long long ttl = C2D_TTL_DEFAULT;
	struct json_spec spec[] = {
		/* twice the limit here, so a body over it is a 413, not a 400 */
		json_spec_string("body", &text, 2 * C2D_BODY_MAX, JSON_SPEC_OPTIONAL),
		json_spec_string("bodyBase64", &b64, b64_encoded_len(2 * C2D_BODY_MAX, 0),
				 JSON_SPEC_OPTIONAL),
		json_spec_object("properties", &props, JSON_SPEC_OPTIONAL),
		json_spec_string("messageId", &sys_vals[0], 128,
				 JSON_SPEC_OPTIONAL | JSON_SPEC_NO_CTRL | JSON_SPEC_NONEMPTY),
		json_spec_string("correlationId", &sys_vals[1], 128,
				 JSON_SPEC_OPTIONAL | JSON_SPEC_NO_CTRL | JSON_SPEC_NONEMPTY),
		json_spec_string("contentType", &sys_vals[2], 128,
				 JSON_SPEC_OPTIONAL | JSON_SPEC_NO_CTRL | JSON_SPEC_NONEMPTY),
		json_spec_string("contentEncoding", &sys_vals[3], 128,
				 JSON_SPEC_OPTIONAL | JSON_SPEC_NO_CTRL | JSON_SPEC_NONEMPTY),
		json_spec_int("ttlSeconds", &ttl, 1, C2D_TTL_MAX, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct c2d_send s = {.m = {.device_id = req->params[0]}};
	char *sys_text = NULL, *props_text = NULL, *bag = NULL, exp[TIMEFMT_RFC3339_LEN];
	uint8_t *bytes = NULL;
	enum spec_status st;
	int ret;

	if (!twin_device_id_ok(s.m.device_id))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	/* Nothing in this spec allocates: no json_spec_free() is owed. */
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if ((text == NULL) == (b64 == NULL))
		return reply_problem(req, ERR_INVALID_FIELD, "/body: give body or bodyBase64, one");
	if (props != NULL && (why = props_check(props)) != NULL)
		return reply_problem(req, ERR_INVALID_FIELD, "/properties: %s", why);
	if (b64 != NULL && (bytes = b64_decode(b64, strlen(b64), 0, &s.m.len)) == NULL)
		return reply_problem(req, ERR_INVALID_FIELD, "/bodyBase64: not base64");
	s.m.body = bytes ? (const void *)bytes : text;
	s.m.len = bytes ? s.m.len : strlen(text);
	s.m.ttl = (int)ttl;
	if ((sys = json_object()) != NULL)
		for (int i = 0; i < 4; i++)
			if (sys_vals[i] != NULL)
				json_object_set_new(sys, sys_names[i], json_string(sys_vals[i]));
	sys_text = sys ? json_dumps(sys, JSON_COMPACT) : NULL;
	props_text = props ? json_dumps(props, JSON_COMPACT) : strdup("{}");
	s.m.system_properties = sys_text;
	s.m.properties = props_text;
	if (s.m.len > C2D_BODY_MAX)
		ret = reply_problem(req, ERR_C2D_TOO_LARGE, "the body is %zu bytes", s.m.len);
	else if (sys_text == NULL || props_text == NULL)
		ret = reply_problem(req, ERR_INTERNAL, "out of memory");
	else if ((bag = messages_bag(s.m.device_id, sys_text, props_text, 0)) == NULL)
		ret = reply_problem(req, ERR_C2D_TOO_LARGE,
				    "the properties take over %d bytes on the topic, encoded",
				    MESSAGES_BAG_MAX);
	else if (store_run_txn(req->srv->store, send_cb, &s) < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (s.out == C2D_NO_DEVICE)
		ret = reply_problem(req, ERR_TWIN_DEVICE_UNKNOWN, NULL);
	else if (s.out == C2D_FULL)
		ret = reply_problem(req, ERR_C2D_QUEUE_FULL, NULL);
	else {
		timefmt_rfc3339(s.expires_at, exp);
		ret = reply_json_steal(req, 201,
				       json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)s.id,
						 "deviceId", s.m.device_id, "status", "queued",
						 "expiryTimeUtc", exp));
	}
	free(bytes);
	free(bag);
	free(sys_text);
	free(props_text);
	json_decref(sys);
	return ret;
}

struct c2d_read {
	const char *id;
	long long after;
	int limit;
	struct store_c2d_list page;
};

static enum store_qs read_cb(struct store_conn *c, void *cls)
{
	struct c2d_read *r = cls;

	store_c2d_list_free(&r->page);
	return store_select_c2d(c, r->id, r->after, r->limit, &r->page);
}

int h_devices_c2d_list(struct request *req)
{
	struct c2d_read r = {.id = req->params[0]};
	json_t *items, *body = NULL;
	long long limit;
	char next[ROUTE_MAX_URL + 64];

	if (!twin_device_id_ok(r.id))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	if (request_arg_ll(req, "after", 0, 0, ID_MAX, &r.after) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "after must be a message id");
	if (request_arg_ll(req, "limit", 100, 1, C2D_LIMIT_MAX, &limit) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..%d",
				     C2D_LIMIT_MAX);
	r.limit = (int)limit;
	if (store_run(req->srv->store, read_cb, &r) < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	items = json_array();
	for (int i = 0; items != NULL && i < r.page.n; i++)
		if (json_array_append_new(items, c2d_json(&r.page.items[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	/* req->path is the path as the client sent it (still encoded) */
	snprintf(next, sizeof next, "%s?after=%lld&limit=%d", req->path,
		 r.page.n > 0 ? r.page.items[r.page.n - 1].id : r.after, r.limit);
	if (items != NULL)
		body = json_pack("{s:o, s:s}", "items", items, "next", next);
	store_c2d_list_free(&r.page);
	if (body == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return reply_json_steal(req, 200, body);
}

struct c2d_purge {
	const char *id;
	long long purged;
};

static enum store_qs purge_cb(struct store_conn *c, void *cls)
{
	struct c2d_purge *p = cls;

	return store_purge_c2d(c, p->id, &p->purged);
}

int h_devices_c2d_purge(struct request *req)
{
	struct c2d_purge p = {.id = req->params[0]};
	enum store_qs qs;

	if (!twin_device_id_ok(p.id))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	if ((qs = store_run(req->srv->store, purge_cb, &p)) < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_TWIN_DEVICE_UNKNOWN, NULL);
	/* IoT Hub's PurgeMessageQueueResult */
	return reply_json_steal(req, 200,
				json_pack("{s:s, s:I}", "deviceId", p.id, "totalMessagesPurged",
					  (json_int_t)p.purged));
}
