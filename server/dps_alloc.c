/* DPS allocation policies and reprovisioning rules (Azure's
 * allocationPolicy, iotHubs, customAllocationDefinition and
 * reprovisionPolicy): parsing them from an enrollment, and picking a hub. */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/dps_alloc.h"

/* Whether s is a plausible host name: 1-253 of letters, digits, - . _ */
static bool host_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DPS_HUB_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

/* The weight of hub in the linked list "host[=w],..." (1 when unlisted or
 * unweighted); *listed says whether it is there. */
static long linked_weight(const char *linked, const char *hub, bool *listed)
{
	size_t hn = strlen(hub);

	*listed = false;
	for (const char *p = linked; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, ",");
		size_t name = strcspn(p, ",=");
		if (name == hn && strncasecmp(p, hub, hn) == 0) {
			*listed = true;
			if (name < n) {
				char *end;
				long w = strtol(p + name + 1, &end, 10);
				return w >= 1 && w <= DPS_WEIGHT_MAX ? w : 1;
			}
			return 1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 1;
}

int dps_alloc_load(const char *allocation_json, struct dps_alloc *a)
{
	json_t *cad, *rp, *v;

	*a = (struct dps_alloc){.policy = "hashed", .update_hub = true, .migrate_data = true};
	if (allocation_json == NULL)
		return 0;
	if ((a->doc = json_loads(allocation_json, 0, NULL)) == NULL)
		return -1;
	if ((v = json_object_get(a->doc, "allocationPolicy")) != NULL && json_is_string(v))
		a->policy = json_string_value(v);
	if (json_is_array(v = json_object_get(a->doc, "iotHubs")))
		a->hubs = v;
	cad = json_object_get(a->doc, "customAllocationDefinition");
	a->webhook_url = json_string_value(json_object_get(cad, "webhookUrl"));
	a->webhook_api_version = json_string_value(json_object_get(cad, "apiVersion"));
	rp = json_object_get(a->doc, "reprovisionPolicy");
	if (json_is_boolean(v = json_object_get(rp, "updateHubAssignment")))
		a->update_hub = json_is_true(v);
	if (json_is_boolean(v = json_object_get(rp, "migrateDeviceData")))
		a->migrate_data = json_is_true(v);
	if (strcmp(a->policy, "custom") == 0 && a->webhook_url == NULL)
		return -1;
	return 0;
}

/* Whether url starts with the prefix p (n bytes) as dps_webhook_allowed()
 * says. */
static bool prefix_ok(const char *url, const char *p, size_t n)
{
	const char *sep = memmem(p, n, "://", 3);
	size_t auth_end = n;

	if (n == 0 || strlen(url) < n)
		return false;
	if (sep != NULL) {
		const char *slash = memchr(sep + 3, '/', n - (size_t)(sep + 3 - p));
		auth_end = slash ? (size_t)(slash - p) : n;
	}
	/* Scheme and host in any case, the path as written. */
	if (strncasecmp(url, p, auth_end) != 0 ||
	    strncmp(url + auth_end, p + auth_end, n - auth_end))
		return false;
	if (sep != NULL && auth_end == n && (size_t)(sep + 3 - p) < n)
		return url[n] == '\0' || strchr("/:?#", url[n]) != NULL;
	return true;
}

bool dps_webhook_allowed(const char *url, const char *allow)
{
	const char *p = allow != NULL ? allow : "https://";

	if (url == NULL)
		return false;
	while (*p != '\0') {
		size_t n;

		p += strspn(p, ", ");
		n = strcspn(p, ", ");
		if (n > 0 && prefix_ok(url, p, n))
			return true;
		p += n;
	}
	return false;
}

void dps_alloc_free(struct dps_alloc *a)
{
	json_decref(a->doc);
	*a = (struct dps_alloc){0};
}

/* customAllocationDefinition: {webhookUrl: http(s) URL, apiVersion}. */
static const char *parse_custom(json_t *cad, json_t *out, char *why, size_t len)
{
	const char *url = json_string_value(json_object_get(cad, "webhookUrl"));
	const char *av = json_string_value(json_object_get(cad, "apiVersion"));

	if (!json_is_object(cad))
		return "/customAllocationDefinition: required for the custom allocationPolicy";
	if (url == NULL || strlen(url) > 2048 ||
	    (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
		snprintf(why, len, "/customAllocationDefinition/webhookUrl: an http or https URL");
		return why;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return "/customAllocationDefinition/webhookUrl: an http or https URL";
	if (av == NULL || strlen(av) == 0 || strlen(av) > 32)
		return "/customAllocationDefinition/apiVersion: required (for example 2021-10-01)";
	json_object_set_new(out, "customAllocationDefinition",
			    json_pack("{s:s, s:s}", "webhookUrl", url, "apiVersion", av));
	return NULL;
}

const char *dps_alloc_parse(json_t *body, const char *linked, char **text, char *why, size_t len)
{
	json_t *pol = json_object_get(body, "allocationPolicy");
	json_t *hubs = json_object_get(body, "iotHubs");
	json_t *cad = json_object_get(body, "customAllocationDefinition");
	json_t *rp = json_object_get(body, "reprovisionPolicy");
	json_t *out = json_object(), *v;
	const char *policy = "hashed", *w = NULL;
	size_t i;

	*text = NULL;
	if (out == NULL)
		return "out of memory";
	if (pol != NULL && !json_is_null(pol)) {
		policy = json_string_value(pol);
		if (policy == NULL ||
		    (strcmp(policy, "hashed") != 0 && strcmp(policy, "static") != 0 &&
		     strcmp(policy, "custom") != 0)) {
			w = "/allocationPolicy: hashed, static or custom (geoLatency is not built)";
			goto out;
		}
		json_object_set_new(out, "allocationPolicy", json_string(policy));
	}
	if (hubs != NULL && !json_is_null(hubs)) {
		if (!json_is_array(hubs) || json_array_size(hubs) == 0 ||
		    json_array_size(hubs) > DPS_HUBS_MAX) {
			snprintf(why, len, "/iotHubs: 1 to %d host names", DPS_HUBS_MAX);
			w = why;
			goto out;
		}
		json_array_foreach (hubs, i, v) {
			bool listed;
			if (!json_is_string(v) || !host_ok(json_string_value(v))) {
				snprintf(why, len, "/iotHubs/%zu: a host name", i);
				w = why;
				goto out;
			}
			linked_weight(linked, json_string_value(v), &listed);
			if (linked != NULL && !listed) {
				snprintf(why, len, "/iotHubs/%zu: %s is not a linked hub", i,
					 json_string_value(v));
				w = why;
				goto out;
			}
		}
		json_object_set(out, "iotHubs", hubs);
	}
	if (strcmp(policy, "static") == 0 && json_array_size(hubs) != 1) {
		w = "/iotHubs: the static allocationPolicy takes exactly one hub";
		goto out;
	}
	if (strcmp(policy, "custom") == 0 && (w = parse_custom(cad, out, why, len)) != NULL)
		goto out;
	if (rp != NULL && !json_is_null(rp)) {
		json_t *u = json_object_get(rp, "updateHubAssignment");
		json_t *m = json_object_get(rp, "migrateDeviceData");
		if (!json_is_object(rp) || (u != NULL && !json_is_boolean(u)) ||
		    (m != NULL && !json_is_boolean(m))) {
			w = "/reprovisionPolicy: {updateHubAssignment, migrateDeviceData}, true or false";
			goto out;
		}
		json_object_set_new(out, "reprovisionPolicy",
				    json_pack("{s:b, s:b}", "updateHubAssignment",
					      u == NULL || json_is_true(u), "migrateDeviceData",
					      m == NULL || json_is_true(m)));
	}
	if (json_object_size(out) > 0 && (*text = json_dumps(out, JSON_COMPACT)) == NULL)
		w = "out of memory";
out:
	json_decref(out);
	return w;
}

void dps_alloc_to_json(const char *allocation_json, json_t *o)
{
	struct dps_alloc a;

	if (dps_alloc_load(allocation_json, &a) == 0) {
		json_object_set_new(o, "allocationPolicy", json_string(a.policy));
		if (a.hubs != NULL)
			json_object_set(o, "iotHubs", a.hubs);
		if (a.webhook_url != NULL)
			json_object_set(o, "customAllocationDefinition",
					json_object_get(a.doc, "customAllocationDefinition"));
		json_object_set_new(o, "reprovisionPolicy",
				    json_pack("{s:b, s:b}", "updateHubAssignment", a.update_hub,
					      "migrateDeviceData", a.migrate_data));
	}
	dps_alloc_free(&a);
}

json_t *dps_alloc_candidates(const struct dps_alloc *a, const char *linked, const char *fallback)
{
	json_t *out = json_array();

	if (out == NULL)
		return NULL;
	if (a->hubs != NULL) {
		json_array_extend(out, a->hubs);
		return out;
	}
	for (const char *p = linked; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, ","), name = strcspn(p, ",=");
		char host[DPS_HUB_NAME_MAX + 1];
		if (name > 0 && name <= DPS_HUB_NAME_MAX) {
			memcpy(host, p, name);
			host[name] = '\0';
			json_array_append_new(out, json_string(host));
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (json_array_size(out) == 0 && fallback != NULL)
		json_array_append_new(out, json_string(fallback));
	return out;
}

/* The rendezvous score of virtual node k of hub for registration_id. */
static uint64_t score(const char *hub, long k, const char *registration_id)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	char buf[DPS_HUB_NAME_MAX + 160];
	int n = snprintf(buf, sizeof buf, "%s#%ld\n%s", hub, k, registration_id);
	uint64_t s = 0;

	SHA256((const unsigned char *)buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1),
	       d);
	for (int i = 0; i < 8; i++)
		s = s << 8 | d[i];
	return s;
}

int dps_alloc_pick(const struct dps_alloc *a, const char *linked, const char *fallback,
		   const char *registration_id, char *out, size_t len)
{
	json_t *hubs = dps_alloc_candidates(a, linked, fallback), *v;
	const char *best = NULL;
	uint64_t best_score = 0;
	size_t i;
	int rc = -1;

	/* Weighted rendezvous hashing with integer weights: a hub of weight
	 * w is w virtual nodes, the highest hash of (node, device) wins. A
	 * device moves only when its hub leaves or a heavier one arrives. */
	json_array_foreach (hubs, i, v) {
		const char *h = json_string_value(v);
		bool listed;
		long w = linked_weight(linked, h, &listed);
		for (long k = 0; k < w; k++) {
			uint64_t s = score(h, k, registration_id);
			if (best == NULL || s > best_score) {
				best = h;
				best_score = s;
			}
		}
		if (strcmp(a->policy, "static") == 0)
			break; /* exactly one hub */
	}
	if (best != NULL && strlen(best) < len) {
		snprintf(out, len, "%s", best);
		rc = 0;
	}
	json_decref(hubs);
	return rc;
}
