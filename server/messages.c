/* IoT Hub's messages as operators see them: a telemetry topic's property
 * bag into system and application properties, stored in one statement; a
 * cloud-to-device message's properties into its topic's bag; bodies and
 * times in JSON. */
#include "server/messages.h"

#include <ctype.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "common/utf8.h"
#include "server/store/store.h"
#include "server/twin_doc.h"

#define BAG_MAX 8192 /* the property bag, encoded */

/* IoT Hub's system properties on the topic, and their names. */
static const char *const sysprops[][2] = {
	{"$.mid", "messageId"},	    {"$.cid", "correlationId"},
	{"$.uid", "userId"},	    {"$.to", "to"},
	{"$.ct", "contentType"},    {"$.ce", "contentEncoding"},
	{"$.exp", "expiryTimeUtc"}, {"$.ifid", "interfaceId"},
	{"$.sub", "dt-subject"},    {"$.on", "outputName"},
};

/* Percent-decodes s in place; -1 when it held a NUL or is not UTF-8. */
static int unescape(char *s)
{
	size_t n;

	for (char *p = s; *p; p++)
		if (*p == '+')
			*p = ' '; /* querystring's form encoding */
		else if (*p == '%' &&
			 (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2])))
			return -1; /* MHD would keep it as it is */
	n = MHD_http_unescape(s);
	return n == strlen(s) && utf8_valid(s, n) ? 0 : -1;
}

/* "k=v&k2=v2" into sys and app (JSON objects). */
static int bag_parse(const char *bag, json_t *sys, json_t *app)
{
	char *copy, *kv, *next;
	int rc = 0;

	if (bag[0] == '\0')
		return 0;
	if (strlen(bag) > BAG_MAX || (copy = strdup(bag)) == NULL)
		return -1;
	for (kv = copy; kv != NULL && rc == 0; kv = next) {
		char *amp = kv + strcspn(kv, "&"), *eq;
		const char *name = NULL;

		next = *amp != '\0' ? amp + 1 : NULL;
		*amp = '\0';
		if (kv[0] == '\0')
			continue; /* "a=1&&b=2", a trailing & */
		if ((eq = strchr(kv, '=')) != NULL)
			*eq = '\0';
		if (unescape(kv) != 0 || kv[0] == '\0' || (eq != NULL && unescape(eq + 1) != 0)) {
			rc = -1;
			break;
		}
		for (size_t i = 0; i < sizeof sysprops / sizeof sysprops[0]; i++)
			if (strcmp(kv, sysprops[i][0]) == 0)
				name = sysprops[i][1];
		if (json_object_set_new(name ? sys : app, name ? name : kv,
					json_string(eq ? eq + 1 : "")) != 0)
			rc = -1;
	}
	free(copy);
	return rc;
}

struct message_put {
	struct store_message_new m;
	long long id;
};

static enum store_qs put_cb(struct store_conn *c, void *cls)
{
	struct message_put *p = cls;

	return store_insert_device_message(c, &p->m, &p->id);
}

int messages_store(struct store *s, const char *device, const char *bag, const void *body,
		   size_t len)
{
	json_t *sys = json_object(), *app = json_object();
	char *st = NULL, *at = NULL;
	struct message_put p = {.m = {.device_id = device, .body = body, .len = len}};
	int rc = -1;

	if (len > MESSAGES_BODY_MAX)
		log_bad_input("device message over 256 KiB dropped", "device", device);
	else if (sys == NULL || app == NULL || bag_parse(bag, sys, app) != 0)
		log_bad_input("device message with a bad property bag dropped", "device", device);
	else if ((st = json_dumps(sys, JSON_COMPACT)) != NULL &&
		 (at = json_dumps(app, JSON_COMPACT)) != NULL) {
		p.m.system_properties = st;
		p.m.properties = at;
		rc = store_run(s, put_cb, &p) < 0 ? -2 : 0;
	}
	free(st);
	free(at);
	json_decref(sys);
	json_decref(app);
	return rc;
}

/* Appends s percent-encoded (RFC 3986's unreserved characters as they
 * are) to out at *n, within cap; -1 when it does not fit. */
static int bag_put(char *out, size_t cap, size_t *n, const char *s)
{
	static const char hexd[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (*n + 4 > cap)
			return -1;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			out[(*n)++] = (char)c;
		else {
			out[(*n)++] = '%';
			out[(*n)++] = hexd[c >> 4];
			out[(*n)++] = hexd[c & 15];
		}
	}
	out[*n] = '\0';
	return 0;
}

/* Appends "&key=value" (no & first), encoded. */
static int bag_kv(char *out, size_t cap, size_t *n, const char *k, const char *v)
{
	if (*n > 0) {
		if (*n + 1 >= cap)
			return -1;
		out[(*n)++] = '&';
	}
	if (bag_put(out, cap, n, k) != 0 || *n + 1 >= cap)
		return -1;
	out[(*n)++] = '=';
	return bag_put(out, cap, n, v);
}

char *messages_bag(const char *device, const char *sys, const char *props, long long expires_at)
{
	json_t *s = json_loads(sys, 0, NULL), *p = json_loads(props, 0, NULL), *v;
	char *out = malloc(MESSAGES_BAG_MAX + 1), to[TWIN_DEVICE_ID_MAX + 64];
	char exp[TIMEFMT_RFC3339_LEN];
	size_t n = 0;
	const char *k;
	int rc = s != NULL && p != NULL && out != NULL ? 0 : -1;

	/* IoT Hub's order: the system properties, then the application's */
	for (size_t i = 0; rc == 0 && i < sizeof sysprops / sizeof sysprops[0]; i++)
		if ((v = json_object_get(s, sysprops[i][1])) != NULL && json_is_string(v))
			rc = bag_kv(out, MESSAGES_BAG_MAX, &n, sysprops[i][0],
				    json_string_value(v));
	snprintf(to, sizeof to, "/devices/%s/messages/devicebound", device);
	timefmt_rfc3339(expires_at, exp);
	if (rc == 0)
		rc = bag_kv(out, MESSAGES_BAG_MAX, &n, "$.to", to);
	if (rc == 0)
		rc = bag_kv(out, MESSAGES_BAG_MAX, &n, "$.exp", exp);
	json_object_foreach (p, k, v)
		if (rc == 0 && json_is_string(v))
			rc = bag_kv(out, MESSAGES_BAG_MAX, &n, k, json_string_value(v));
	json_decref(s);
	json_decref(p);
	if (rc != 0) {
		free(out);
		return NULL;
	}
	return out;
}

json_t *messages_body_json(const unsigned char *b, size_t len)
{
	json_t *body = NULL;
	char *b64;

	if (utf8_valid((const char *)b, len) && memchr(b, 0, len) == NULL)
		body = json_pack("{s:s%}", "body", (const char *)b, len);
	else if ((b64 = b64_encode(b, len, 0)) != NULL) {
		body = json_pack("{s:s}", "bodyBase64", b64);
		free(b64);
	}
	return body;
}

void messages_time(long long epoch, long long us, char out[MESSAGES_TIME_LEN])
{
	char at[TIMEFMT_RFC3339_LEN];

	timefmt_rfc3339(epoch, at);
	snprintf(out, MESSAGES_TIME_LEN, "%.19s.%06lldZ", at, us);
}

json_t *messages_json(const struct store_message *e)
{
	char when[MESSAGES_TIME_LEN];
	json_t *sys = json_loads(e->system_properties, 0, NULL);
	json_t *app = json_loads(e->properties, 0, NULL), *body;

	messages_time(e->received_at, e->received_us, when);
	body = messages_body_json(e->body, e->len);
	if (sys == NULL || app == NULL || body == NULL) {
		json_decref(sys);
		json_decref(app);
		json_decref(body);
		return NULL;
	}
	json_object_update_new(body, json_pack("{s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)e->id,
					       "deviceId", e->device_id, "enqueuedTime", when,
					       "systemProperties", sys, "properties", app));
	return body;
}
