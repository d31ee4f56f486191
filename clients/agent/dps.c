/* dps.c: provisioning with Orchard's DPS (docs/dps.md), symmetric-key
 * flow: PUT register with a registration SAS, poll the operation while it
 * is assigning, keep the assignment in state_dir/registration.json so a
 * restart does not register again. Orchard unreachable: backoff with
 * jitter, capped at 30 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "common/log.h"

#define API "api-version=2021-06-01"

/* Sleeps up to s seconds, waking early on a stop. */
static void nap(double s)
{
	for (double t = 0; t < s && !agent_stopping; t += 0.1)
		usleep(100000);
}

static double backoff(int attempt)
{
	double b = 1 << (attempt < 5 ? attempt : 5);
	if (b > 30)
		b = 30;
	return b / 2 + (b / 2) * ((double)(rand() % 1000) / 1000.0);
}

static int load_state(const char *path, struct agent_identity *id)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *dev = json_string_value(json_object_get(j, "deviceId"));
	const char *hub = json_string_value(json_object_get(j, "assignedHub"));
	int rc = -1;
	if (dev && hub && strlen(dev) < sizeof(id->device_id) && strlen(hub) < sizeof(id->hub)) {
		snprintf(id->device_id, sizeof(id->device_id), "%s", dev);
		snprintf(id->hub, sizeof(id->hub), "%s", hub);
		rc = 0;
	}
	json_decref(j);
	return rc;
}

static int save_state(const char *path, const json_t *rs)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	json_t *j = json_pack("{s:O?, s:O?}", "deviceId", json_object_get(rs, "deviceId"),
			      "assignedHub", json_object_get(rs, "assignedHub"));
	int rc = j && json_dump_file(j, tmp, JSON_COMPACT) == 0 && rename(tmp, path) == 0 ? 0 : -1;
	json_decref(j);
	return rc;
}

/* One register attempt (and its polls): 1 assigned, 0 retry, -1 give up. */
static int attempt(const struct agent_config *c, const char *statefile, struct agent_identity *id)
{
	char sr[512], url[2048];
	snprintf(sr, sizeof(sr), "%s/registrations/%s", c->id_scope, c->registration_id);
	char *sas = sas_token(sr, c->symmetric_key, 3600, "registration");
	if (!sas) {
		log_kv(LOG_ERROR, "symmetric_key is not base64", NULL);
		return -1;
	}
	json_t *body = json_pack("{s:s}", "registrationId", c->registration_id);
	char *b = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	snprintf(url, sizeof(url), "%s/%s/registrations/%s/register?" API, c->url, c->id_scope,
		 c->registration_id);
	struct http_reply r;
	int rc = http_json(c, "PUT", url, sas, b, 30, &r);
	free(b);
	int ret = 0;
	for (int polls = 0; rc == 0 && polls < 60; polls++) {
		json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
		const char *status = json_string_value(json_object_get(j, "status"));
		const char *op = json_string_value(json_object_get(j, "operationId"));
		if ((r.status == 200 || r.status == 202) && status && !strcmp(status, "assigned")) {
			json_t *rs = json_object_get(j, "registrationState");
			if (save_state(statefile, rs) == 0 && load_state(statefile, id) == 0) {
				ret = 1;
			} else {
				log_kv(LOG_ERROR, "cannot save the registration", "file", statefile,
				       NULL);
				ret = -1;
			}
		} else if ((r.status == 200 || r.status == 202) && status &&
			   !strcmp(status, "assigning") && op) {
			nap(r.retry_after > 0 ? (double)r.retry_after : 1);
			snprintf(url, sizeof(url), "%s/%s/registrations/%s/operations/%s?" API,
				 c->url, c->id_scope, c->registration_id, op);
			json_decref(j);
			http_reply_free(&r);
			if (agent_stopping)
				return -1;
			rc = http_json(c, "GET", url, sas, NULL, 30, &r);
			continue;
		} else {
			char st[16];
			snprintf(st, sizeof(st), "%ld", r.status);
			log_kv(LOG_WARN, "registration refused", "status", st, "registrationStatus",
			       status ? status : "", NULL);
		}
		json_decref(j);
		break;
	}
	http_reply_free(&r);
	free(sas);
	return ret;
}

int dps_provision(const struct agent_config *c, struct agent_identity *id)
{
	char statefile[4096];
	snprintf(statefile, sizeof(statefile), "%s/registration.json", c->state_dir);
	if (load_state(statefile, id) == 0) {
		log_kv(LOG_INFO, "registered before", "deviceId", id->device_id, "hub", id->hub,
		       NULL);
		return 0;
	}
	for (int n = 0; !agent_stopping; n++) {
		int rc = attempt(c, statefile, id);
		if (rc == 1) {
			log_kv(LOG_INFO, "registered", "deviceId", id->device_id, "hub", id->hub,
			       NULL);
			return 0;
		}
		if (rc < 0)
			return -1;
		nap(backoff(n));
	}
	return -1;
}
