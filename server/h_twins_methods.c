/* POST /twins/{deviceId}/methods?api-version=2021-10-01: IoT Hub's direct
 * method call. orchardd publishes "$iothub/methods/POST/{methodName}/?$rid=R"
 * to that one device over MQTT (server/mqtt_methods.c) and answers
 * {"status": <the device's status>, "payload": <its JSON>} when the device
 * publishes "$iothub/methods/res/{status}/?$rid=R". The request sleeps
 * meanwhile (server/wait.h): no thread waits. 404 (IoT Hub's 404103) when
 * the device is not connected to the broker, after waiting up to
 * connectTimeoutInSeconds for it to connect; 504 (504101) when it does not
 * answer within responseTimeoutInSeconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers.h"
#include "server/mqtt.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/events.h"
#include "server/twin_doc.h"
#include "server/wait.h"

#define METHOD_NAME_MAX 128

/* A call across its suspensions. */
struct method_call {
	struct server *srv;
	struct waiter *w;
	char device[TWIN_DEVICE_ID_MAX + 1];
	char name[METHOD_NAME_MAX + 1];
	char *payload; /* JSON text */
	long response_ms;
	char rid[MQTT_RID_MAX]; /* "" until sent */
};

static void method_call_free(void *cls)
{
	struct method_call *c = cls;

	wait_free(c->w);
	if (c->rid[0] != '\0' && c->srv->mqtt != NULL)
		mqtt_method_forget(c->srv->mqtt, c->rid);
	free(c->payload);
	free(c);
}

/* methodName: a topic level IoT Hub's SDKs match on (no / + # ?). */
static enum json_spec_rc parse_name(const struct json_spec *s, json_t *v, const char *ptr,
				    struct json_spec_error *err)
{
	const char *n = json_string_value(v);
	size_t len = json_string_length(v);

	if (n == NULL || len == 0 || len > METHOD_NAME_MAX || strlen(n) != len ||
	    strpbrk(n, "/+#?") != NULL)
		return json_spec_fail(err, ptr, "must be 1 to %d characters without / + # ?",
				      METHOD_NAME_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
			return json_spec_fail(err, ptr, "holds a control character");
	*(const char **)s->dest = n;
	return JSON_SPEC_OK;
}

/* payload: any JSON value, borrowed. */
static enum json_spec_rc parse_any(const struct json_spec *s, json_t *v, const char *ptr,
				   struct json_spec_error *err)
{
	(void)ptr, (void)err;
	*(json_t **)s->dest = v;
	return JSON_SPEC_OK;
}

/* The first call: parse, check, remember. NULL when a reply was queued
 * (*ret says what to return). */
static struct method_call *method_call_new(struct request *req, long *connect_ms, int *ret)
{
	const char *name = NULL;
	json_t *payload = NULL;
	long long rt = 30, ct = 0;
	struct json_spec spec[] = {
		{.field = "methodName", .parse = parse_name, .dest = &name},
		{.field = "payload",
		 .parse = parse_any,
		 .dest = &payload,
		 .flags = JSON_SPEC_OPTIONAL},
		json_spec_int("responseTimeoutInSeconds", &rt, 5, 300, JSON_SPEC_OPTIONAL),
		json_spec_int("connectTimeoutInSeconds", &ct, 0, 300, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct method_call *c;
	enum spec_status st;
	char *text;

	if (!twin_device_id_ok(req->params[0])) {
		*ret = reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
		return NULL;
	}
	/* Nothing in this spec allocates: no json_spec_free() is owed. */
	if ((st = spec_parse_body(req, spec)) != SPEC_OK) {
		*ret = SPEC_HANDLER_RESULT(st);
		return NULL;
	}
	text = json_dumps(payload ? payload : json_null(),
			  JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	if (text != NULL && strlen(text) > MQTT_METHOD_PAYLOAD_MAX) {
		free(text);
		*ret = reply_problem(req, ERR_METHOD_PAYLOAD_TOO_LARGE, "the payload is %s",
				     "over 128 KB");
		return NULL;
	}
	if (text == NULL || (c = calloc(1, sizeof *c)) == NULL) {
		free(text);
		*ret = reply_problem(req, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	c->srv = req->srv;
	c->payload = text;
	c->response_ms = (long)rt * 1000;
	snprintf(c->device, sizeof c->device, "%s", req->params[0]);
	snprintf(c->name, sizeof c->name, "%s", name);
	*connect_ms = (long)ct * 1000;
	return c;
}

/* {"status", "payload"}: the device's JSON, or its bytes as a string
 * when they are not JSON, or null when it sent none. */
static int method_reply(struct request *req, int status, char *text)
{
	json_t *p = text[0] ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();

	if (p == NULL)
		p = json_string(text);
	free(text);
	return reply_json_steal(
		req, 200,
		json_pack("{s:i, s:o}", "status", status, "payload", p ? p : json_null()));
}

int h_twins_method(struct request *req)
{
	struct method_call *c = req->state;
	struct mqtt *m = req->srv->mqtt;
	long connect_ms = 0;
	int ret = MHD_NO, status;
	char *text;

	if (c == NULL) {
		if ((c = method_call_new(req, &connect_ms, &ret)) == NULL)
			return ret;
		request_set_state(req, c, method_call_free);
		if (m == NULL)
			return reply_problem(req, ERR_METHOD_UNAVAILABLE, NULL);
		/* not connected: wait for it up to connectTimeoutInSeconds */
		if (connect_ms > 0 && !mqtt_device_online(m, c->device) &&
		    (c->w = wait_new(req->srv, req->conn, EVENTS_MQTT_CONNECT, c->device,
				     connect_ms)) == NULL)
			return reply_problem(req, ERR_INTERNAL, "cannot wait");
	}
	while (c->rid[0] == '\0') {
		switch (mqtt_method_call(m, c->device, c->name, c->payload, strlen(c->payload),
					 c->rid)) {
		case MQTT_CALL_SENT: break;
		case MQTT_CALL_UNAVAILABLE: return reply_problem(req, ERR_METHOD_UNAVAILABLE, NULL);
		case MQTT_CALL_OFFLINE:
			if (c->w == NULL || wait_expired(c->w))
				return reply_problem(req, ERR_METHOD_DEVICE_OFFLINE,
						     "%s is not connected", c->device);
			if (wait_sleep(c->w))
				return MHD_YES; /* resumed when it connects, or at the deadline */
			continue;
		}
		/* sent: now wait for the answer (subscribed after the send, but
		 * the answer is kept for us: nothing is missed) */
		wait_free(c->w);
		if ((c->w = wait_new(req->srv, req->conn, EVENTS_MQTT_METHOD, c->rid,
				     c->response_ms)) == NULL)
			return reply_problem(req, ERR_INTERNAL, "cannot wait");
	}
	for (;;) {
		if (mqtt_method_take(m, c->rid, &status, &text)) {
			if (status >= 0)
				return method_reply(req, status, text);
			free(text);
			return reply_problem(req, ERR_METHOD_DEVICE_OFFLINE, "%s left", c->device);
		}
		if (wait_expired(c->w))
			return reply_problem(req, ERR_METHOD_TIMEOUT, "no answer from %s in %ld s",
					     c->device, c->response_ms / 1000);
		if (wait_sleep(c->w))
			return MHD_YES; /* resumed by the answer or the deadline */
	}
}
