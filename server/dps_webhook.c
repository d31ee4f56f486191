/* DPS custom allocation webhooks (Azure's customAllocationDefinition): a
 * background job POSTs Azure's request body (individualEnrollment or
 * enrollmentGroup, deviceRuntimeContext, linkedHubs) with libcurl under
 * --dps-webhook-timeout, then one transaction ends the registration: the
 * hub it answered (one of the linked hubs), its initialTwin and payload;
 * or failed, with why, when the webhook is down, slow, refuses, or answers
 * garbage, and nothing else written. No request thread waits: the device
 * polls its operation meanwhile (202 assigning, Retry-After). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "server/dps.h"
#include "server/dps_alloc.h"
#include "server/dps_webhook.h"
#include "server/jobs.h"
#include "server/server.h"
#include "server/store/dps.h"

#define WEBHOOK_REPLY_MAX (64 * 1024)

struct dps_webhook {
	struct server *srv;
	char *url;
	char *body; /* the request, JSON */
	char *registration_id, *operation_id, *device_id;
	char *enrollment_twin; /* the enrollment's initialTwin (NULL: none) */
	char *current_hub;     /* reprovisioning: the hub it had (NULL: none) */
	bool migrate;	       /* reprovisionPolicy.migrateDeviceData */
	json_t *candidates;    /* hubs it may be assigned to */
	/* The outcome. */
	long http_status;
	struct buf reply;
	char curl_error[CURL_ERROR_SIZE];
	CURLcode rc;
	struct store_dps_registration out;
	/* What the transaction writes. */
	const char *hub, *twin, *payload;
	char *twin_text, *payload_text;
	char why[300];
	bool failed; /* then why says why */
};

void dps_webhook_free(struct dps_webhook *w)
{
	if (w == NULL)
		return;
	free(w->url);
	free(w->body);
	free(w->registration_id);
	free(w->operation_id);
	free(w->device_id);
	free(w->enrollment_twin);
	free(w->current_hub);
	free(w->twin_text);
	free(w->payload_text);
	json_decref(w->candidates);
	buf_free(&w->reply);
	store_dps_registration_free(&w->out);
	free(w);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct dps_webhook *dps_webhook_new(const struct store_dps_enrollment *e, const struct dps_alloc *a,
				    const char *registration_id, const char *operation_id,
				    const char *device_id, json_t *payload, json_t *candidates,
				    const char *current_hub)
{
	struct dps_webhook *w = calloc(1, sizeof *w);
	json_t *ctx, *req;
	bool group = strcmp(e->kind, STORE_DPS_GROUP) == 0;

	if (w == NULL)
		return NULL;
	buf_init(&w->reply, WEBHOOK_REPLY_MAX);
	ctx = json_pack("{s:s}", "registrationId", registration_id);
	if (current_hub != NULL) {
		json_object_set_new(ctx, "currentIotHubHostName", json_string(current_hub));
		json_object_set_new(ctx, "currentDeviceId", json_string(device_id));
	}
	/* The attestation type the device used, as Azure names it. */
	json_object_set_new(ctx, e->attestation_type, json_object());
	if (payload != NULL)
		json_object_set(ctx, "payload", payload);
	req = json_pack("{s:o, s:o, s:O}", group ? "enrollmentGroup" : "individualEnrollment",
			dps_enrollment_public_json(e), "deviceRuntimeContext", ctx, "linkedHubs",
			candidates);
	w->body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	w->url = dup_or_null(a->webhook_url);
	w->registration_id = dup_or_null(registration_id);
	w->operation_id = dup_or_null(operation_id);
	w->device_id = dup_or_null(device_id);
	w->current_hub = dup_or_null(current_hub);
	w->migrate = a->migrate_data;
	w->candidates = json_incref(candidates);
	if (e->initial_twin_json != NULL)
		w->enrollment_twin = strdup(e->initial_twin_json);
	if (w->body == NULL || w->url == NULL || w->registration_id == NULL ||
	    w->operation_id == NULL || w->device_id == NULL ||
	    (current_hub && w->current_hub == NULL) ||
	    (e->initial_twin_json && w->enrollment_twin == NULL)) {
		dps_webhook_free(w);
		return NULL;
	}
	return w;
}

static size_t reply_write(char *p, size_t size, size_t n, void *cls)
{
	struct buf *b = cls;

	return buf_add(b, p, size * n) == 0 ? size * n : 0; /* too long: aborts */
}

/* On a jobs worker: the call, nothing else. */
static void webhook_run(void *cls)
{
	struct dps_webhook *w = cls;
	long timeout = w->srv->cfg.dps_webhook_timeout > 0 ? w->srv->cfg.dps_webhook_timeout : 10;
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();

	w->rc = CURLE_FAILED_INIT;
	/* The setting may have been narrowed since the enrollment was written. */
	if (!dps_webhook_allowed(w->url, w->srv->cfg.dps_webhook_allow))
		w->rc = CURLE_REMOTE_ACCESS_DENIED;
	if (c == NULL || w->rc == CURLE_REMOTE_ACCESS_DENIED) {
		curl_easy_cleanup(c);
		return;
	}
	h = curl_slist_append(h, "Content-Type: application/json; charset=utf-8");
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "orchardd-dps-allocation");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &w->reply);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->curl_error);
	w->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &w->http_status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* Reads the webhook's answer into w->hub/twin/payload; NULL, or why it
 * cannot be used (into w->why). */
static const char *read_reply(struct dps_webhook *w, json_t **doc)
{
	json_t *hub, *twin, *payload, *v;
	size_t i;

	*doc = NULL;
	if (w->rc != CURLE_OK) {
		snprintf(w->why, sizeof w->why, "the custom allocation webhook failed: %s",
			 w->rc == CURLE_OPERATION_TIMEDOUT ? "no answer in time"
			 : w->rc == CURLE_REMOTE_ACCESS_DENIED
				 ? "its URL is no longer allowed (--dps-webhook-allow)"
			 : w->rc == CURLE_WRITE_ERROR ? "its answer is too long"
						      : curl_easy_strerror(w->rc));
		return w->why;
	}
	if (w->http_status != 200) {
		snprintf(w->why, sizeof w->why,
			 "the custom allocation webhook answered HTTP %ld, not 200",
			 w->http_status);
		return w->why;
	}
	*doc = json_loadb((const char *)w->reply.data, w->reply.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*doc))
		return "the custom allocation webhook answered no JSON object";
	hub = json_object_get(*doc, "iotHubHostName");
	if (!json_is_string(hub))
		return "the custom allocation webhook's answer has no iotHubHostName";
	json_array_foreach (w->candidates, i, v)
		if (strcasecmp(json_string_value(v), json_string_value(hub)) == 0)
			w->hub = json_string_value(v);
	if (w->hub == NULL)
		return "the custom allocation webhook chose a hub that is not linked";
	twin = json_object_get(*doc, "initialTwin");
	if (twin != NULL && !json_is_null(twin)) {
		if (!json_is_object(twin) || dps_initial_twin_problem(twin, w->why, sizeof w->why))
			return "the custom allocation webhook's initialTwin is not a valid twin";
		if ((w->twin_text = json_dumps(twin, JSON_COMPACT)) == NULL)
			return "out of memory";
	}
	payload = json_object_get(*doc, "payload");
	if (payload != NULL && !json_is_null(payload) &&
	    (w->payload_text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return "out of memory";
	w->twin = w->twin_text ? w->twin_text : w->enrollment_twin;
	w->payload = w->payload_text;
	return NULL;
}

/* One transaction: the registration ends, and an assigned device gets
 * its twin; a registration that moved on (registered again) is left. */
static enum store_qs finish_cb(struct store_conn *c, void *cls)
{
	struct dps_webhook *w = cls;
	char etag[33];
	bool assigned = !w->failed;
	bool moved = w->current_hub != NULL && assigned && strcasecmp(w->current_hub, w->hub) != 0;
	struct store_dps_registration r = {
		.registration_id = w->registration_id,
		.operation_id = w->operation_id,
		.status = assigned ? "assigned" : "failed",
		.substatus = !assigned		      ? NULL
			     : w->current_hub == NULL ? "initialAssignment"
			     : !moved		      ? "reprovisionedToInitialAssignment"
			     : w->migrate	      ? "deviceDataMigrated"
						      : "deviceDataReset",
		.assigned_hub = assigned ? (char *)w->hub : NULL,
		.payload_json = assigned ? (char *)w->payload : NULL,
		.error_code = assigned ? 0 : (int)err_table[ERR_DPS_ALLOCATION_FAILED].azure_code,
		.error_message = assigned ? NULL : w->why,
		.etag = etag,
	};
	enum store_qs qs;

	store_dps_registration_free(&w->out);
	if (dps_random_hex(etag, 16) != 0)
		return STORE_HARD;
	qs = store_finish_dps_registration(c, &r, &w->out);
	if (qs == STORE_ONE && assigned)
		qs = dps_twin_place(c, w->device_id, w->twin, moved && !w->migrate,
				    w->registration_id);
	return qs;
}

/* On the same worker, after the call. */
static void webhook_done(void *cls)
{
	struct dps_webhook *w = cls;
	json_t *doc = NULL;
	const char *why = read_reply(w, &doc);
	enum store_qs qs;

	if (why != NULL && why != w->why)
		snprintf(w->why, sizeof w->why, "%s", why);
	w->failed = why != NULL;
	if (why != NULL)
		log_kv(LOG_WARN, "DPS custom allocation failed", "registration_id",
		       w->registration_id, "why", w->why, NULL);
	qs = store_run_txn(w->srv->store, finish_cb, w);
	if (qs < 0 && why == NULL) {
		/* The twin could not be written: fail the registration
		 * rather than leave it assigning. */
		snprintf(w->why, sizeof w->why,
			 "the webhook's allocation could not be recorded (initialTwin too large?)");
		w->failed = true;
		qs = store_run_txn(w->srv->store, finish_cb, w);
	}
	if (qs < 0)
		log_kv(LOG_ERROR, "DPS custom allocation not recorded", "registration_id",
		       w->registration_id, NULL);
	json_decref(doc);
	dps_webhook_free(w);
}

void dps_webhook_submit(struct server *srv, struct dps_webhook *w)
{
	w->srv = srv;
	if (jobs_submit(srv->jobs, webhook_run, webhook_done, w) == 0)
		return;
	snprintf(w->why, sizeof w->why, "too many custom allocations at once; register again");
	w->failed = true;
	if (store_run_txn(srv->store, finish_cb, w) < 0)
		log_kv(LOG_ERROR, "DPS custom allocation not recorded", "registration_id",
		       w->registration_id, NULL);
	dps_webhook_free(w);
}
