/* The MQTT backend's twin answers: a device's "twin/GET" and
 * "twin/PATCH/properties/reported" requests, answered on
 * "orchard/down/<deviceId>/twin/res/<status>/?$rid=R[&$version=N]" with the
 * same twin code as the HTTPS device API (server/twins.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/depot.h"
#include "server/mqtt_int.h"
#include "server/server.h"

/* Answers request rid of device id with status and body (NULL: none). */
static void respond(struct mqtt *m, const char *id, const char *rid, int status, long long version,
		    const char *body)
{
	char topic[512];

	if (version > 0)
		snprintf(topic, sizeof topic, DOWN "%s/twin/res/%d/?$rid=%s&$version=%lld", id,
			 status, rid, version);
	else
		snprintf(topic, sizeof topic, DOWN "%s/twin/res/%d/?$rid=%s", id, status, rid);
	mqtt__publish(m, topic, body ? body : "");
}

/* IoT Hub's error body: {"errorCode": status * 1000 + 1, "message"}. */
void mqtt__respond_error(struct mqtt *m, const char *id, const char *rid, enum err_code err,
			 const char *detail)
{
	unsigned st = err_table[err].http_status;
	json_t *b = json_pack("{s:I, s:s}", "errorCode", (json_int_t)st * 1000 + 1, "message",
			      detail && *detail ? detail : err_table[err].title);
	char *text = b ? json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	respond(m, id, rid, (int)st, 0, text ? text : "{}");
	free(text);
	json_decref(b);
}

void mqtt__twin_get(struct mqtt *m, const char *id, const char *rid)
{
	struct store_twin row = {0};
	enum store_qs qs = twin_select(m->srv->store, id, &row);
	json_t *des = NULL, *rep = NULL, *doc = NULL;
	char *text = NULL;
	struct follow *f;

	if (qs < 0 || qs == STORE_NONE) {
		mqtt__respond_error(m, id, rid, qs < 0 ? ERR_DB_UNAVAILABLE : ERR_TWIN_NOT_FOUND,
				    NULL);
		goto out;
	}
	des = mqtt__section_of(row.desired);
	rep = mqtt__section_of(row.reported);
	if (des == NULL || rep == NULL ||
	    (doc = json_pack("{s:O, s:O}", "desired", des, "reported", rep)) == NULL ||
	    (text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		mqtt__respond_error(m, id, rid, ERR_INTERNAL, NULL);
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	respond(m, id, rid, 200, 0, text);
	if ((f = mqtt__follow_find(m, id, true)) != NULL && row.desired_version >= f->version)
		mqtt__follow_set(f, des, row.desired_version);
	pthread_mutex_unlock(&m->lock);
out:
	free(text);
	json_decref(doc);
	json_decref(des);
	json_decref(rep);
	store_twin_free(&row);
}

void mqtt__twin_reported(struct mqtt *m, const char *id, const char *rid, const void *payload,
			 int len)
{
	json_error_t jerr;
	struct twin_reported u = {.device_id = id};
	json_t *patch;
	json_t *rep = NULL;
	enum store_qs qs;

	if (len > MQTT_PAYLOAD_MAX) {
		mqtt__respond_error(m, id, rid, ERR_TWIN_TOO_LARGE, "the patch is over 64 KiB");
		return;
	}
	patch = json_loadb(payload, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
	if (patch == NULL) {
		mqtt__respond_error(m, id, rid, ERR_TWIN_BAD_REPORTED, "the patch is not JSON");
		return;
	}
	u.patch = patch;
	qs = twin_reported_update(m->srv->store, &u);
	if (qs < 0)
		mqtt__respond_error(m, id, rid, ERR_DB_UNAVAILABLE, NULL);
	else if (u.err != 0)
		mqtt__respond_error(m, id, rid, u.err, u.te.where[0] ? u.te.msg : NULL);
	else if ((rep = json_loads(u.row.reported, 0, NULL)) == NULL)
		mqtt__respond_error(m, id, rid, ERR_INTERNAL, NULL);
	else {
		respond(m, id, rid, 204, twin_props_version(rep), NULL);
		depot_twin_reported(m->srv, patch);
	}
	json_decref(rep);
	json_decref(patch);
	store_twin_free(&u.row);
}
