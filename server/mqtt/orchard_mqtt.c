/* orchard_mqtt.so: the mosquitto plugin (API v5, mosquitto 2.0) that makes
 * a stock broker an IoT Hub for Microsoft's device SDKs. It lives under
 * server/ because it is the service's side of the wire, speaks only
 * orchardd's private socket protocol (server/mqtt_auth.h) and holds no
 * device key; it is built apart (a .so, not in orchardd) because mosquitto
 * loads it.
 *
 *   BASIC_AUTH  asks orchardd over its Unix socket: a device's SAS is
 *               checked by the very code the HTTPS device API runs
 *               (hub_sas_verify()), against the keys in Orchard's store;
 *               the backend (orchardd itself) by the secret orchardd keeps
 *               in its database (every orchardd of it knows it).
 *               plugin_opt_socket may list several orchardd's sockets:
 *               the next is asked when one is down.
 *               Without a password, the TLS client certificate (a listener
 *               with require_certificate true) goes to orchardd, which
 *               checks it with the HTTPS API's X.509 code (hub_x509_verify()).
 *               Client id = device id = the SAS's device, and the username
 *               names it too: "{hub}/{deviceId}/?api-version=...".
 *   ACL_CHECK   a device subscribes to IoT Hub's four filters only (the
 *               methods and desired ones are remembered per session: a
 *               method call to a device without it is answered 404 at
 *               once, and a persistent session's reconnect is followed
 *               again for desired pushes as if it subscribed), writes
 *               its twin requests, method answers and its own telemetry
 *               topic, and reads only its own cloud-to-device topic.
 *   MESSAGE     a device's "$iothub/<rest>" is re-published as
 *               "orchard/up/<clientId>/<rest>" for the backend (a non-$
 *               prefix: "$share/..." never matches a $ topic in mosquitto
 *               2.0); the backend's "orchard/down/<deviceId>/<rest>" goes
 *               to that one client as "$iothub/<rest>", or, for
 *               "devicebound/<row>/<bag>", as its cloud-to-device message
 *               (QoS 1; "not handed over" back when it is gone). While no backend
 *               is connected, a twin request is answered 503 at once.
 *               Each device may send plugin_opt_rate $iothub requests a
 *               second (default 50, bursts of twice that); beyond, twin
 *               requests are answered 429 here and go no further.
 *   expiry      a connection whose SAS expired (se + 300 s) is closed at
 *               the broker's next event (2.0.11 has no working TICK).
 *               A backend's "orchard/hello" (once subscribed) is answered
 *               with a follow notice for every connected device; its
 *               "orchard/revoked" (a certificate's serial) ends the
 *               connections that presented that certificate, its
 *               "orchard/kick" (a device id) that device's connection.
 *
 * mosquitto's main loop is single-threaded and BASIC_AUTH is synchronous:
 * the question to orchardd (server/mqtt/ask.c) is one line each way on a
 * kept connection, with a 3 s timeout, after which the device is refused
 * (CONNACK 5). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "common/hash.h"
#include "server/mqtt/ask.h"

#define UP_PREFIX "orchard/up/"
#define DOWN_PREFIX "orchard/down/"
#define MRES_PREFIX "orchard/mres/" /* method answers, to every backend */
/* To every backend: "1"/"0", a device can take direct methods now
 * (connected, and its session subscribed to them) or no longer; "x", its
 * last connection ended (orchardd forgets what it pushed it) */
#define CONN_PREFIX "orchard/conn/"
#define HUB_PREFIX "$iothub/"
#define HELLO_TOPIC "orchard/hello" /* a backend is ready to follow devices */
/* From a backend: a certificate's serial (hex), revoked: its connection ends */
#define REVOKED_TOPIC "orchard/revoked"
/* From a backend: a device id whose enrollment was disabled: its connection ends */
#define KICK_TOPIC "orchard/kick"
#define BACKENDS_MAX 16
#define SESSION_BUCKETS 4096
#define DESIRED_PUSH "twin/PATCH/properties/desired/"

static struct {
	mosquitto_plugin_id_t *id;
	char backend_user[64];
	/* what a device's session subscribed to, of methods and desired
	 * patches (a persistent session outlives its connections: the SDK
	 * does not subscribe again) */
	struct session {
		struct session *next;
		char id[129];
		unsigned subs; /* SUB_* */
	} * sessions[SESSION_BUCKETS];
	/* the backends connected now: while there is none, a device's twin
	 * request is answered 503 here, so no SDK waits forever */
	struct mosquitto *backends[BACKENDS_MAX];
	/* the devices connected now, replayed to a backend that says hello
	 * (a restarted orchardd), so it pushes desired to them again */
	struct conn {
		struct mosquitto *client;
		char id[129];
		double tokens;	   /* a token bucket of $iothub requests */
		long long last_ms; /* when it was last filled */
		long long until;   /* its SAS's se plus the skew orchardd allows: then kicked */
		long long desired; /* the desired $version last pushed to it */
		char serial[72];   /* its client certificate's serial, hex; "": a SAS */
	} * conns;
	size_t nconns, capconns;
	double rate; /* $iothub requests a second per device (bursts: twice that); 0: no limit */
} plug = {.rate = 50};

static void conn_add(struct mosquitto *client, const char *id, long long until, const char *serial)
{
	if (plug.nconns == plug.capconns) {
		size_t cap = plug.capconns ? plug.capconns * 2 : 64;
		struct conn *c = realloc(plug.conns, cap * sizeof *c);

		if (c == NULL)
			return; /* not replayed: it is followed again at its next GET */
		plug.conns = c;
		plug.capconns = cap;
	}
	plug.conns[plug.nconns] = (struct conn){.client = client,
						.tokens = plug.rate * 2,
						.last_ms = plugin_now_ms(),
						.until = until};
	for (size_t i = 0; i < plug.nconns; i++) /* a renewal: the same device */
		if (strcmp(plug.conns[i].id, id) == 0)
			plug.conns[plug.nconns].desired = plug.conns[i].desired;
	snprintf(plug.conns[plug.nconns].id, sizeof plug.conns[0].id, "%s", id);
	snprintf(plug.conns[plug.nconns].serial, sizeof plug.conns[0].serial, "%s", serial);
	plug.nconns++;
}

/* Whether client may send one more $iothub request now (its bucket). */
static bool conn_allow(struct mosquitto *client)
{
	long long now = plugin_now_ms();

	if (plug.rate <= 0)
		return true;
	for (size_t i = 0; i < plug.nconns; i++) {
		struct conn *c = &plug.conns[i];

		if (c->client != client)
			continue;
		c->tokens += (double)(now - c->last_ms) * plug.rate / 1000.0;
		if (c->tokens > plug.rate * 2)
			c->tokens = plug.rate * 2;
		c->last_ms = now;
		if (c->tokens < 1)
			return false;
		c->tokens -= 1;
		return true;
	}
	return true; /* not tracked (out of memory at connect) */
}

/* By pointer: with persistent sessions the old connection's DISCONNECT
 * comes after the same device's new BASIC_AUTH. */
static void conn_del(struct mosquitto *client)
{
	for (size_t i = 0; i < plug.nconns; i++)
		if (plug.conns[i].client == client) {
			plug.conns[i] = plug.conns[--plug.nconns];
			return;
		}
}

/* Tells every backend what of device id changed (CONN_PREFIX's "1", "0",
 * "x"): a method call answers 404 at once for a device that takes none, as
 * IoT Hub does, and a device that left is no longer followed. */
static void conn_notice(const char *id, const char *what)
{
	char topic[256];

	if (snprintf(topic, sizeof topic, CONN_PREFIX "%s", id) < (int)sizeof topic)
		mosquitto_broker_publish_copy(NULL, topic, 1, what, 0, false, NULL);
}

/* Tells a backend (one, by the shared subscription) that device id listens
 * for desired patches, so it pushes them even to a device that never GETs
 * its twin. */
static void follow_notice(const char *id)
{
	char topic[256];

	if (snprintf(topic, sizeof topic, UP_PREFIX "%s/twin/SUBSCRIBE/desired/", id) <
	    (int)sizeof topic)
		mosquitto_broker_publish_copy(NULL, topic, 0, "", 0, false, NULL);
}

/* Tells a backend (one, by the shared subscription) that device id listens
 * for cloud-to-device messages: it sends those queued, and later ones. */
static void c2d_notice(const char *id)
{
	char topic[256];

	if (snprintf(topic, sizeof topic, UP_PREFIX "%s/c2d/SUBSCRIBE/", id) < (int)sizeof topic)
		mosquitto_broker_publish_copy(NULL, topic, 0, "", 0, false, NULL);
}

static bool conn_online(const char *id)
{
	for (size_t i = 0; i < plug.nconns; i++)
		if (strcmp(plug.conns[i].id, id) == 0)
			return true;
	return false;
}

/* Whether a desired push (version v, diffed from version from; -1: not
 * said) goes to device id: several orchardd may follow one device, so the
 * first push of a version wins and a later one is dropped, as is a diff
 * from older than what the device was last sent. */
static bool desired_fresh(const char *id, long long v, long long from)
{
	long long last = 0;

	for (size_t i = 0; i < plug.nconns; i++)
		if (strcmp(plug.conns[i].id, id) == 0 && plug.conns[i].desired > last)
			last = plug.conns[i].desired;
	if (v <= last || (from >= 0 && last > 0 && from < last))
		return false;
	for (size_t i = 0; i < plug.nconns; i++)
		if (strcmp(plug.conns[i].id, id) == 0)
			plug.conns[i].desired = v;
	return true;
}

enum { SUB_METHODS = 1, SUB_DESIRED = 2, SUB_C2D = 4 };

/* Finds id's session entry (the link to it, or where it would go). */
static struct session **session_find(const char *id)
{
	struct session **p = &plug.sessions[hash_fnv1a_str(id) % SESSION_BUCKETS];

	while (*p != NULL && strcmp((*p)->id, id) != 0)
		p = &(*p)->next;
	return p;
}

/* The SUB_* subscriptions id's session holds. */
static unsigned session_subs(const char *id)
{
	struct session *s = *session_find(id);

	return s != NULL ? s->subs : 0;
}

/* Records that id's session holds (on) or no longer holds the
 * subscriptions of mask; an entry holding none is freed. */
static void session_set(const char *id, unsigned mask, bool on)
{
	struct session **p = session_find(id), *s = *p;

	if (on && s == NULL && (s = *p = calloc(1, sizeof *s)) != NULL)
		snprintf(s->id, sizeof s->id, "%s", id);
	if (s == NULL)
		return;
	s->subs = on ? s->subs | mask : s->subs & ~mask;
	if (s->subs == 0) {
		*p = s->next;
		free(s);
	}
}

static int backends_connected(void)
{
	int n = 0;

	for (int i = 0; i < BACKENDS_MAX; i++)
		n += plug.backends[i] != NULL;
	return n;
}

static void backend_set(struct mosquitto *old, struct mosquitto *new)
{
	for (int i = 0; i < BACKENDS_MAX; i++)
		if (plug.backends[i] == old) {
			plug.backends[i] = new;
			return;
		}
}

/* A device ID as a topic level: no separators, no wildcards. */
static bool device_id_ok(const char *id)
{
	return plugin_field_ok(id) && strlen(id) <= 128 && strpbrk(id, "/+#") == NULL;
}

static bool is_backend(struct mosquitto *client)
{
	const char *user = mosquitto_client_username(client);

	return user != NULL && strcmp(user, plug.backend_user) == 0;
}

/* A backend says certificate serial (len hex bytes) was revoked: the
 * connections that presented it end now, not when it expires. */
static void revoked_kick(const char *serial, size_t len)
{
	for (size_t i = 0; i < plug.nconns; i++)
		if (plugin_serial_same(plug.conns[i].serial, serial, len)) {
			mosquitto_log_printf(MOSQ_LOG_NOTICE,
					     "orchard: %s: certificate revoked, disconnected",
					     plug.conns[i].id);
			plug.conns[i].serial[0] = '\0'; /* once */
			mosquitto_kick_client_by_clientid(plug.conns[i].id, false);
		}
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *cid = mosquitto_client_id(ed->client), *user = ed->username;
	bool sas = ed->password != NULL && ed->password[0] != '\0', ok;
	long long until = 0;
	char *b64 = NULL, serial[sizeof plug.conns[0].serial] = "";
	size_t n;

	(void)event, (void)userdata;
	if (!plugin_field_ok(user) || (sas && !plugin_field_ok(ed->password)) || cid == NULL)
		return MOSQ_ERR_AUTH;
	if (strcmp(user, plug.backend_user) == 0) {
		if (!sas || !plugin_ask('B', user, ed->password))
			return MOSQ_ERR_AUTH;
		backend_set(NULL, ed->client);
		return MOSQ_ERR_SUCCESS;
	}
	/* "{hub}/{deviceId}/?api-version=...": the client id is the device */
	if (!device_id_ok(cid) || (user = strchr(user, '/')) == NULL)
		return MOSQ_ERR_AUTH;
	n = strlen(cid);
	if (strncmp(user + 1, cid, n) != 0 || user[1 + n] != '/')
		return MOSQ_ERR_AUTH;
	/* a SAS, or else the X.509 certificate the TLS handshake verified */
	if (sas) {
		ok = plugin_ask('D', cid, ed->password);
		until = plugin_sas_until(ed->password);
	} else {
		ok = (b64 = plugin_cert_b64(ed->client, &until, serial, sizeof serial)) != NULL &&
		     plugin_ask('X', cid, b64);
		free(b64);
	}
	if (!ok) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "orchard: device %s refused", cid);
		return MOSQ_ERR_AUTH;
	}
	if (mosquitto_client_clean_session(ed->client))
		session_set(cid, SUB_METHODS | SUB_DESIRED | SUB_C2D, false); /* a new session */
	conn_add(ed->client, cid, until, serial);
	/* its persistent session has these subscriptions: it will not send
	 * them again, and orchardd forgot it when it left */
	if (session_subs(cid) & SUB_METHODS)
		conn_notice(cid, "1");
	if (session_subs(cid) & SUB_DESIRED)
		follow_notice(cid);
	if (session_subs(cid) & SUB_C2D)
		c2d_notice(cid);
	return MOSQ_ERR_SUCCESS;
}

/* At most once a second: ends the connections whose SAS expired, unless a
 * newer connection of the same device (a renewal) took over. mosquitto
 * 2.0.11 never sends MOSQ_EVT_TICK, so the broker's other events call it:
 * an expired device is closed at its own next request at the latest. */
static bool sweep(struct mosquitto *current)
{
	struct timespec ts;
	static time_t last;
	bool expired = false;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (size_t i = 0; current != NULL && i < plug.nconns; i++)
		if (plug.conns[i].client == current && plug.conns[i].until != 0 &&
		    plug.conns[i].until < (long long)ts.tv_sec)
			expired = true; /* refused now; closed by another's event */
	if (ts.tv_sec == last)
		return expired;
	last = ts.tv_sec;
	for (size_t i = 0; i < plug.nconns; i++) {
		struct conn *c = &plug.conns[i];
		bool newer = false;

		if (c->until == 0 || c->until >= (long long)ts.tv_sec)
			continue;
		if (c->client == current) {
			last = 0; /* never the client whose event this is (in use): next event */
			continue;
		}
		for (size_t j = 0; j < plug.nconns; j++)
			newer |= j != i && strcmp(plug.conns[j].id, c->id) == 0 &&
				 (plug.conns[j].until == 0 ||
				  plug.conns[j].until >= (long long)ts.tv_sec);
		c->until = 0; /* once */
		if (!newer) {
			mosquitto_log_printf(MOSQ_LOG_NOTICE,
					     "orchard: %s: SAS expired, disconnected", c->id);
			mosquitto_kick_client_by_clientid(c->id, false);
		}
	}
	return expired;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "devices/<id>/<tail>" is the device's own topic (tail: "messages/...") */
static bool own_topic(const char *topic, const char *id, const char *tail)
{
	size_t n = strlen(id);

	return starts(topic, "devices/") && strncmp(topic + 8, id, n) == 0 && topic[8 + n] == '/' &&
	       starts(topic + 9 + n, tail);
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *id = mosquitto_client_id(ed->client), *t = ed->topic;
	static const char *const subs[] = {"$iothub/twin/res/#",
					   "$iothub/twin/PATCH/properties/desired/#",
					   "$iothub/methods/POST/#"};
	static const char *const writes[] = {"$iothub/twin/GET/",
					     "$iothub/twin/PATCH/properties/reported/",
					     "$iothub/methods/res/"};

	(void)event, (void)userdata;
	if (sweep(ed->client))
		return MOSQ_ERR_ACL_DENIED; /* its SAS expired */
	if (is_backend(ed->client))
		return MOSQ_ERR_SUCCESS;
	if (id == NULL || t == NULL)
		return MOSQ_ERR_ACL_DENIED;
	switch (ed->access) {
	case MOSQ_ACL_SUBSCRIBE:
		if (strcmp(t, subs[1]) == 0) {
			session_set(id, SUB_DESIRED, true);
			follow_notice(id);
		}
		if (strcmp(t, subs[2]) == 0) {
			session_set(id, SUB_METHODS, true);
			conn_notice(id, "1");
		}
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
			if (strcmp(t, subs[i]) == 0)
				return MOSQ_ERR_SUCCESS;
		if (!own_topic(t, id, "") ||
		    strcmp(t + 9 + strlen(id), "messages/devicebound/#") != 0)
			return MOSQ_ERR_ACL_DENIED;
		session_set(id, SUB_C2D, true);
		c2d_notice(id);
		return MOSQ_ERR_SUCCESS;
	case MOSQ_ACL_UNSUBSCRIBE:
		if (own_topic(t, id, "") &&
		    strcmp(t + 9 + strlen(id), "messages/devicebound/#") == 0)
			session_set(id, SUB_C2D, false);
		if (strcmp(t, subs[1]) == 0)
			session_set(id, SUB_DESIRED, false);
		if (strcmp(t, subs[2]) == 0) {
			session_set(id, SUB_METHODS, false);
			conn_notice(id, "0");
		}
		return MOSQ_ERR_SUCCESS;
	case MOSQ_ACL_WRITE:
		for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
			if (starts(t, writes[i]))
				return MOSQ_ERR_SUCCESS;
		return own_topic(t, id, "messages/events/") ? MOSQ_ERR_SUCCESS
							    : MOSQ_ERR_ACL_DENIED;
	case MOSQ_ACL_READ:
		return own_topic(t, id, "messages/devicebound/") ? MOSQ_ERR_SUCCESS
								 : MOSQ_ERR_ACL_DENIED;
	default: return MOSQ_ERR_ACL_DENIED;
	}
}

/* Answers device id's twin request (topic t) with status and body here,
 * without orchardd; other requests are dropped. */
static void twin_refuse(const char *id, const char *t, int status, const char *body)
{
	const char *rid = starts(t, "$iothub/twin/") ? strstr(t, "$rid=") : NULL;
	size_t n = rid ? strcspn(rid + 5, "&") : 0;
	char topic[256];

	if (rid != NULL && n > 0 && n < 130 &&
	    snprintf(topic, sizeof topic, HUB_PREFIX "twin/res/%d/?$rid=%.*s", status, (int)n,
		     rid + 5) < (int)sizeof topic)
		mosquitto_broker_publish_copy(id, topic, (int)strlen(body), body, 0, false, NULL);
}

/* A cloud-to-device message from a backend: rest is "{row}/{bag}". To the
 * device at QoS 1 on its devicebound topic, or, when it is gone or no
 * longer subscribed, "not handed over" back to a backend, which queues it
 * again. */
static int c2d_deliver(const char *id, const char *rest, const void *payload, int len)
{
	char topic[8192 + 512];
	const char *slash = strchr(rest, '/');

	if (slash == NULL)
		return MOSQ_ERR_SUCCESS;
	if (!conn_online(id) || !(session_subs(id) & SUB_C2D)) { /* gone, or unsubscribed */
		if (snprintf(topic, sizeof topic, UP_PREFIX "%s/c2d/UNDELIVERED/%.*s", id,
			     (int)(slash - rest), rest) < (int)sizeof topic)
			mosquitto_broker_publish_copy(NULL, topic, 0, "", 0, false, NULL);
		return MOSQ_ERR_SUCCESS;
	}
	if (snprintf(topic, sizeof topic, "devices/%s/messages/devicebound/%s", id, slash + 1) <
	    (int)sizeof topic)
		mosquitto_broker_publish_copy(id, topic, len, payload, 1, false, NULL);
	return MOSQ_ERR_SUCCESS;
}

/* A backend says device id (len bytes) may no longer connect (its
 * enrollment was disabled or deleted): its connection ends now. */
static void device_kick(const char *id, size_t len)
{
	char dev[sizeof plug.conns[0].id];

	if (len == 0 || len >= sizeof dev)
		return;
	memcpy(dev, id, len);
	dev[len] = '\0';
	if (!conn_online(dev))
		return;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "orchard: %s: enrollment disabled, disconnected",
			     dev);
	mosquitto_kick_client_by_clientid(dev, false);
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	const char *id = mosquitto_client_id(ed->client), *t = ed->topic;
	char topic[8192 + 512], target[129];

	(void)event, (void)userdata;
	if (id == NULL || t == NULL || ed->payloadlen > INT32_MAX)
		return MOSQ_ERR_SUCCESS;
	if (is_backend(ed->client)) {
		const char *rest, *slash;

		if (strcmp(t, REVOKED_TOPIC) == 0) {
			revoked_kick(ed->payload, ed->payloadlen);
			return MOSQ_ERR_SUCCESS;
		}
		if (strcmp(t, KICK_TOPIC) == 0) {
			device_kick(ed->payload, ed->payloadlen);
			return MOSQ_ERR_SUCCESS;
		}
		if (strcmp(t, HELLO_TOPIC) == 0) {
			for (size_t i = 0; i < plug.nconns; i++) {
				follow_notice(plug.conns[i].id);
				if (session_subs(plug.conns[i].id) & SUB_METHODS)
					conn_notice(plug.conns[i].id, "1");
				if (session_subs(plug.conns[i].id) & SUB_C2D)
					c2d_notice(plug.conns[i].id);
			}
			return MOSQ_ERR_SUCCESS;
		}
		if (!starts(t, DOWN_PREFIX))
			return MOSQ_ERR_SUCCESS;
		rest = t + strlen(DOWN_PREFIX);
		slash = strchr(rest, '/');
		if (slash == NULL || (size_t)(slash - rest) >= sizeof target)
			return MOSQ_ERR_SUCCESS;
		memcpy(target, rest, (size_t)(slash - rest));
		target[slash - rest] = '\0';
		if (starts(slash + 1, "devicebound/"))
			return c2d_deliver(target, slash + 1 + 12, ed->payload,
					   (int)ed->payloadlen);
		if (snprintf(topic, sizeof topic, HUB_PREFIX "%s", slash + 1) >= (int)sizeof topic)
			return MOSQ_ERR_SUCCESS;
		if (starts(slash + 1, "methods/POST/") &&
		    (!conn_online(target) || !(session_subs(target) & SUB_METHODS))) {
			/* gone since orchardd looked, or never subscribed to
			 * methods: say so at once (IoT Hub's 404) */
			const char *rid = strstr(slash + 1, "?$rid=");

			if (rid != NULL &&
			    snprintf(topic, sizeof topic, MRES_PREFIX "%s/offline/%s", target,
				     rid) < (int)sizeof topic)
				mosquitto_broker_publish_copy(NULL, topic, 0, "", 0, false, NULL);
			return MOSQ_ERR_SUCCESS;
		}
		if (starts(slash + 1, DESIRED_PUSH)) {
			const char *v = strstr(slash + 1, "?$version="),
				   *from = strstr(t, "&$from=");
			char *amp = strstr(topic, "&$from=");

			if (v != NULL && !desired_fresh(target, strtoll(v + 10, NULL, 10),
							from ? strtoll(from + 7, NULL, 10) : -1))
				return MOSQ_ERR_SUCCESS; /* another orchardd pushed it */
			if (amp != NULL)
				*amp = '\0'; /* ours, not IoT Hub's */
		}
		/* targeted: to that client alone, whatever it subscribed */
		mosquitto_broker_publish_copy(target, topic, (int)ed->payloadlen, ed->payload,
					      ed->qos, false, NULL);
		return MOSQ_ERR_SUCCESS;
	}
	if (own_topic(t, id, "messages/events/")) {
		/* telemetry -> "orchard/up/{id}/telemetry/{bag}" for one backend,
		 * within the device's rate (beyond it, or with no backend: dropped;
		 * MQTT 3.1.1 acknowledged it anyway) */
		if (!conn_allow(ed->client) || backends_connected() == 0 ||
		    snprintf(topic, sizeof topic, UP_PREFIX "%s/telemetry/%s", id,
			     t + 9 + strlen(id) + strlen("messages/events/")) >= (int)sizeof topic)
			return MOSQ_ERR_SUCCESS;
		mosquitto_broker_publish_copy(NULL, topic, (int)ed->payloadlen, ed->payload,
					      ed->qos, false, NULL);
		return MOSQ_ERR_SUCCESS;
	}
	if (starts(t, HUB_PREFIX) && !conn_allow(ed->client)) {
		twin_refuse(id, t, 429, "{\"errorCode\":429001,\"message\":\"Too many requests\"}");
		return MOSQ_ERR_SUCCESS;
	}
	if (starts(t, "$iothub/twin/") && backends_connected() == 0) {
		twin_refuse(
			id, t, 503,
			"{\"errorCode\":503001,\"message\":\"Orchard is unavailable, retry later\"}");
		return MOSQ_ERR_SUCCESS;
	}
	if (starts(t, "$iothub/methods/res/")) {
		/* "$iothub/methods/res/{status}/?$rid=R" -> every backend, as
		 * "orchard/mres/{id}/{status}/?$rid=R"; the one that asked keeps it */
		const char *st = t + strlen("$iothub/methods/res/");
		size_t n = strspn(st, "0123456789");

		if (n == 0 || n > 9 || st[n] != '/' ||
		    snprintf(topic, sizeof topic, MRES_PREFIX "%s/%s", id, st) >= (int)sizeof topic)
			return MOSQ_ERR_SUCCESS;
		mosquitto_broker_publish_copy(NULL, topic, (int)ed->payloadlen, ed->payload, 0,
					      false, NULL);
		return MOSQ_ERR_SUCCESS;
	}
	if (!starts(t, HUB_PREFIX) || snprintf(topic, sizeof topic, UP_PREFIX "%s/%s", id,
					       t + strlen(HUB_PREFIX)) >= (int)sizeof topic)
		return MOSQ_ERR_SUCCESS;
	mosquitto_broker_publish_copy(NULL, topic, (int)ed->payloadlen, ed->payload, ed->qos, false,
				      NULL);
	return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;

	char id[sizeof plug.conns[0].id] = "";

	(void)event, (void)userdata;
	if (is_backend(ed->client)) {
		backend_set(ed->client, NULL);
		/* the devices that orchardd followed: to the others (one each,
		 * by the shared subscription), so their pushes go on */
		if (backends_connected() > 0)
			for (size_t i = 0; i < plug.nconns; i++)
				follow_notice(plug.conns[i].id);
		return MOSQ_ERR_SUCCESS;
	}
	for (size_t i = 0; i < plug.nconns; i++)
		if (plug.conns[i].client == ed->client)
			snprintf(id, sizeof id, "%s", plug.conns[i].id);
	conn_del(ed->client);
	/* a persistent session's old connection ends after its successor's
	 * BASIC_AUTH: the device is still there */
	if (id[0] != '\0' && !conn_online(id))
		conn_notice(id, "x");
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
			  struct mosquitto_opt *options, int option_count)
{
	bool sockets_ok = false;

	(void)userdata;
	plug.id = identifier;
	snprintf(plug.backend_user, sizeof plug.backend_user, "orchardd");
	for (int i = 0; i < option_count; i++) {
		if (strcmp(options[i].key, "socket") == 0) {
			sockets_ok = plugin_ask_sockets(options[i].value) == 0;
		} else if (strcmp(options[i].key, "rate") == 0)
			plug.rate = atof(options[i].value);
		else if (strcmp(options[i].key, "backend_user") == 0)
			snprintf(plug.backend_user, sizeof plug.backend_user, "%s",
				 options[i].value);
	}
	if (!sockets_ok || strchr(plug.backend_user, '/') != NULL) {
		mosquitto_log_printf(MOSQ_LOG_ERR,
				     "orchard: plugin_opt_socket (orchardd's MQTT sockets, at most"
				     " 8) is required; plugin_opt_backend_user has no '/'");
		return MOSQ_ERR_INVAL;
	}
	if (mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL,
					NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL) !=
		    MOSQ_ERR_SUCCESS ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message, NULL, NULL) !=
		    MOSQ_ERR_SUCCESS ||
	    mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, on_disconnect, NULL,
					NULL) != MOSQ_ERR_SUCCESS)
		return MOSQ_ERR_UNKNOWN;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata, (void)options, (void)option_count;
	mosquitto_callback_unregister(plug.id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plug.id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plug.id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(plug.id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	plugin_ask_close();
	free(plug.conns);
	for (int b = 0; b < SESSION_BUCKETS; b++)
		for (struct session *m = plug.sessions[b], *n; m != NULL; m = n) {
			n = m->next;
			free(m);
		}
	return MOSQ_ERR_SUCCESS;
}
