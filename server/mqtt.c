/* orchardd as the broker's backend client (libmosquitto, its own network
 * thread). Why a client and not the plugin talking to orchardd over a
 * socket: the plugin can only publish from mosquitto's own loop, which
 * polls plugins at most every 100 ms, while a backend client is woken by
 * the broker at once (a reported PATCH answers in about 2 ms); and several
 * orchardd can share the work through one shared subscription.
 *
 * Up:   "orchard/up/<deviceId>/twin/GET/?$rid=R"
 *       "orchard/up/<deviceId>/twin/PATCH/properties/reported/?$rid=R"
 *       (the plugin tags each device publish with its authenticated id)
 * Down: "orchard/down/<deviceId>/twin/res/<status>/?$rid=R[&$version=N]"
 *       "orchard/down/<deviceId>/twin/PATCH/properties/desired/?$version=N"
 *       (the plugin hands each to that one client as "$iothub/...")
 *
 * Desired pushes: every twin change is announced on EVENTS_TWIN ("deviceId
 * desiredVersion"). For a device that has read its twin over MQTT since
 * orchardd started (the SDK GETs on every connect), subscribed to desired
 * patches, or was connected when this orchardd said hello to the plugin
 * ("orchard/hello" once subscribed), the pusher thread reads
 * the twin and sends the difference from the desired it last sent, as a
 * merge patch with its $version, so deletions travel as nulls. Nothing is
 * lost across a reconnect: the device's next GET carries the whole twin. */
#include "server/mqtt.h"

#include <mosquitto.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/log.h"
#include "server/messages.h"
#include "server/mqtt_auth.h"
#include "server/server.h"
#include "server/store/dps.h"
#include "server/store/events.h"
#include "server/twins.h"

#define UP "orchard/up/"
#define DOWN "orchard/down/"
#define MRES "orchard/mres/" /* a device's method answer, to every orchardd */
#define CONN "orchard/conn/" /* "1"/"0": a device connected or left, to every orchardd */
#define ONLINE_BUCKETS 1024
#define PENDING_MAX 10000
#define MQTT_PAYLOAD_MAX (64 * 1024) /* the HTTPS route's body cap */
#define FOLLOW_BUCKETS 1024

/* A device that read its twin over MQTT: what desired it holds. */
struct follow {
	char id[TWIN_DEVICE_ID_MAX + 1];
	json_t *desired;	 /* as last sent, without $metadata */
	long long version;	 /* its $version */
	bool dirty;		 /* a push is due */
	struct follow *next;	 /* bucket */
	struct follow *next_due; /* the pusher's list */
};

/* A device connected to the broker now. */
struct online {
	char id[TWIN_DEVICE_ID_MAX + 1];
	struct online *next;
};

/* A direct method call on its way: its answer, once it came. */
struct pending {
	char rid[MQTT_RID_MAX];
	char device[TWIN_DEVICE_ID_MAX + 1];
	bool answered;
	int status; /* -1: the device was gone */
	char *payload;
	struct pending *next;
};

struct mqtt {
	struct server *srv;
	struct mosquitto *mosq;
	struct mqtt_auth *auth;
	struct event_sub sub;
	bool subscribed;
	pthread_mutex_t lock; /* follows, due, stop; held while publishing a twin's state */
	pthread_cond_t cond;
	pthread_t pusher, net;
	bool pusher_started, net_started, stop;
	char host[256];
	int port;
	struct follow *buckets[FOLLOW_BUCKETS];
	struct follow *due;
	/* direct methods */
	pthread_mutex_t mlock; /* connected, online, pending, next_rid */
	bool connected;	       /* to the broker, subscribed */
	struct online *online[ONLINE_BUCKETS];
	struct pending *pending;
	size_t npending;
	unsigned long long next_rid;
	char rid_prefix[9]; /* random: rids are unique across orchardd instances */
};

static unsigned bucket_of(const char *id)
{
	unsigned h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % FOLLOW_BUCKETS;
}

/* Under m->lock. */
static struct follow *follow_find(struct mqtt *m, const char *id, bool create)
{
	unsigned b = bucket_of(id);
	struct follow *f;

	for (f = m->buckets[b]; f != NULL; f = f->next)
		if (strcmp(f->id, id) == 0)
			return f;
	if (!create || (f = calloc(1, sizeof *f)) == NULL)
		return NULL;
	snprintf(f->id, sizeof f->id, "%s", id);
	f->next = m->buckets[b];
	m->buckets[b] = f;
	return f;
}

static void publish(struct mqtt *m, const char *topic, const char *body)
{
	int rc = mosquitto_publish(m->mosq, NULL, topic, (int)strlen(body), body, 0, false);

	if (rc != MOSQ_ERR_SUCCESS)
		log_kv(LOG_WARN, "mqtt publish failed", "topic", topic, "error",
		       mosquitto_strerror(rc), NULL);
}

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
	publish(m, topic, body ? body : "");
}

/* IoT Hub's error body: {"errorCode": status * 1000 + 1, "message"}. */
static void respond_error(struct mqtt *m, const char *id, const char *rid, enum err_code err,
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

/* A section as the device sees it: values and $version, no $metadata. */
static json_t *section_of(const char *text)
{
	json_t *s = json_loads(text, 0, NULL);

	if (s != NULL)
		json_object_del(s, "$metadata");
	return s;
}

/* Under m->lock: f now holds desired (version v). */
static void follow_set(struct follow *f, json_t *desired, long long v)
{
	json_decref(f->desired);
	f->desired = json_incref(desired);
	f->version = v;
}

static void twin_get(struct mqtt *m, const char *id, const char *rid)
{
	struct store_twin row = {0};
	enum store_qs qs = twin_select(m->srv->store, id, &row);
	json_t *des = NULL, *rep = NULL, *doc = NULL;
	char *text = NULL;
	struct follow *f;

	if (qs < 0 || qs == STORE_NONE) {
		respond_error(m, id, rid, qs < 0 ? ERR_DB_UNAVAILABLE : ERR_TWIN_NOT_FOUND, NULL);
		goto out;
	}
	des = section_of(row.desired);
	rep = section_of(row.reported);
	if (des == NULL || rep == NULL ||
	    (doc = json_pack("{s:O, s:O}", "desired", des, "reported", rep)) == NULL ||
	    (text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		respond_error(m, id, rid, ERR_INTERNAL, NULL);
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	respond(m, id, rid, 200, 0, text);
	if ((f = follow_find(m, id, true)) != NULL && row.desired_version >= f->version)
		follow_set(f, des, row.desired_version);
	pthread_mutex_unlock(&m->lock);
out:
	free(text);
	json_decref(doc);
	json_decref(des);
	json_decref(rep);
	store_twin_free(&row);
}

static void twin_reported(struct mqtt *m, const char *id, const char *rid, const void *payload,
			  int len)
{
	json_error_t jerr;
	struct twin_reported u = {.device_id = id};
	json_t *patch;
	json_t *rep = NULL;
	enum store_qs qs;

	if (len > MQTT_PAYLOAD_MAX) {
		respond_error(m, id, rid, ERR_TWIN_TOO_LARGE, "the patch is over 64 KiB");
		return;
	}
	patch = json_loadb(payload, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
	if (patch == NULL) {
		respond_error(m, id, rid, ERR_TWIN_BAD_REPORTED, "the patch is not JSON");
		return;
	}
	u.patch = patch;
	qs = twin_reported_update(m->srv->store, &u);
	if (qs < 0)
		respond_error(m, id, rid, ERR_DB_UNAVAILABLE, NULL);
	else if (u.err != 0)
		respond_error(m, id, rid, u.err, u.te.where[0] ? u.te.msg : NULL);
	else if ((rep = json_loads(u.row.reported, 0, NULL)) == NULL)
		respond_error(m, id, rid, ERR_INTERNAL, NULL);
	else
		respond(m, id, rid, 204, twin_props_version(rep), NULL);
	json_decref(rep);
	json_decref(patch);
	store_twin_free(&u.row);
}

/* Starts following id from its stored desired, unless already followed. */
static void twin_follow(struct mqtt *m, const char *id)
{
	struct store_twin row = {0};
	json_t *des = NULL;
	struct follow *f;

	if (twin_select(m->srv->store, id, &row) != STORE_ONE ||
	    (des = section_of(row.desired)) == NULL)
		goto out;
	pthread_mutex_lock(&m->lock);
	if ((f = follow_find(m, id, true)) != NULL && f->desired == NULL)
		follow_set(f, des, row.desired_version);
	pthread_mutex_unlock(&m->lock);
out:
	json_decref(des);
	store_twin_free(&row);
}

/* "$rid=" from a topic's query (NULL when absent or unsafe to echo). */
static const char *rid_of(const char *query, char out[130])
{
	const char *p = strstr(query, "$rid=");
	size_t n;

	if (p == NULL)
		return NULL;
	p += 5;
	n = strcspn(p, "&");
	if (n == 0 || n >= 130 || strcspn(p, "/+#") < n)
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/* Under m->mlock. */
static struct online **online_find(struct mqtt *m, const char *id)
{
	struct online **o = &m->online[bucket_of(id) % ONLINE_BUCKETS];

	while (*o != NULL && strcmp((*o)->id, id) != 0)
		o = &(*o)->next;
	return o;
}

static void online_clear(struct mqtt *m)
{
	for (int b = 0; b < ONLINE_BUCKETS; b++)
		for (struct online *o = m->online[b], *n; o != NULL; o = n) {
			n = o->next;
			free(o);
		}
	memset(m->online, 0, sizeof m->online);
}

/* The plugin: device id connected (on) or left its last connection. */
static void online_set(struct mqtt *m, const char *id, bool on)
{
	struct online **o, *gone = NULL;
	bool added = false;

	if (!twin_device_id_ok(id))
		return;
	pthread_mutex_lock(&m->mlock);
	o = online_find(m, id);
	if (on && *o == NULL && (*o = calloc(1, sizeof **o)) != NULL) {
		snprintf((*o)->id, sizeof(*o)->id, "%s", id);
		added = true;
	} else if (!on && *o != NULL) {
		gone = *o;
		*o = gone->next;
	}
	pthread_mutex_unlock(&m->mlock);
	free(gone);
	if (added) /* a call waiting for the device to connect */
		events_post(m->srv->events, EVENTS_MQTT_CONNECT, id);
}

bool mqtt_device_online(struct mqtt *m, const char *device)
{
	bool on;

	pthread_mutex_lock(&m->mlock);
	on = m->connected && *online_find(m, device) != NULL;
	pthread_mutex_unlock(&m->mlock);
	return on;
}

/* Under m->mlock. */
static struct pending **pending_find(struct mqtt *m, const char *rid)
{
	struct pending **p = &m->pending;

	while (*p != NULL && strcmp((*p)->rid, rid) != 0)
		p = &(*p)->next;
	return p;
}

/* "<deviceId>/<status>/?$rid=R" from the plugin: a device's answer
 * (status all digits), or "offline" when the request found no device.
 * Every orchardd gets it; the one whose rid it is keeps it. */
static void method_answer(struct mqtt *m, const char *t, const void *payload, int len)
{
	char id[TWIN_DEVICE_ID_MAX + 1], st[16], ridbuf[130];
	const char *slash = strchr(t, '/'), *slash2, *rid;
	struct pending *p;
	bool woke = false;
	long status;

	if (slash == NULL || (size_t)(slash - t) >= sizeof id ||
	    (slash2 = strchr(slash + 1, '/')) == NULL ||
	    (size_t)(slash2 - slash - 1) >= sizeof st || slash2 == slash + 1 ||
	    (rid = rid_of(slash2, ridbuf)) == NULL ||
	    strncmp(rid, m->rid_prefix, strlen(m->rid_prefix)) != 0)
		return; /* not ours */
	memcpy(id, t, (size_t)(slash - t));
	id[slash - t] = '\0';
	memcpy(st, slash + 1, (size_t)(slash2 - slash - 1));
	st[slash2 - slash - 1] = '\0';
	if (strcmp(st, "offline") == 0)
		status = -1;
	else if (strspn(st, "0123456789") != strlen(st) || strlen(st) > 9)
		return;
	else
		status = strtol(st, NULL, 10);
	pthread_mutex_lock(&m->mlock);
	p = *pending_find(m, rid);
	/* only the device asked answers (another cannot guess its way in) */
	if (p != NULL && !p->answered && strcmp(p->device, id) == 0 &&
	    (p->payload = malloc((size_t)len + 1)) != NULL) {
		memcpy(p->payload, payload, (size_t)len);
		p->payload[len] = '\0';
		p->status = (int)status;
		p->answered = woke = true;
	}
	pthread_mutex_unlock(&m->mlock);
	if (woke)
		events_post(m->srv->events, EVENTS_MQTT_METHOD, rid);
}

enum mqtt_call mqtt_method_call(struct mqtt *m, const char *device, const char *name,
				const char *payload, size_t len, char rid[MQTT_RID_MAX])
{
	struct pending *p = calloc(1, sizeof *p);
	enum mqtt_call r = MQTT_CALL_UNAVAILABLE;
	char topic[512];
	int rc;

	if (p == NULL)
		return r;
	pthread_mutex_lock(&m->mlock);
	if (!m->connected || m->npending >= PENDING_MAX)
		goto out;
	if (*online_find(m, device) == NULL) {
		r = MQTT_CALL_OFFLINE;
		goto out;
	}
	snprintf(p->rid, sizeof p->rid, "%s%llx", m->rid_prefix, ++m->next_rid);
	snprintf(p->device, sizeof p->device, "%s", device);
	if (snprintf(topic, sizeof topic, DOWN "%s/methods/POST/%s/?$rid=%s", device, name,
		     p->rid) >= (int)sizeof topic)
		goto out;
	p->next = m->pending;
	m->pending = p;
	m->npending++;
	memcpy(rid, p->rid, sizeof p->rid);
	r = MQTT_CALL_SENT;
	p = NULL;
out:
	pthread_mutex_unlock(&m->mlock);
	free(p);
	if (r != MQTT_CALL_SENT)
		return r;
	rc = mosquitto_publish(m->mosq, NULL, topic, (int)len, payload, 0, false);
	if (rc == MOSQ_ERR_SUCCESS)
		return r;
	log_kv(LOG_WARN, "mqtt publish failed", "topic", topic, "error", mosquitto_strerror(rc),
	       NULL);
	mqtt_method_forget(m, rid);
	return MQTT_CALL_UNAVAILABLE;
}

int mqtt_method_take(struct mqtt *m, const char *rid, int *status, char **payload)
{
	struct pending *p;
	int got = 0;

	pthread_mutex_lock(&m->mlock);
	p = *pending_find(m, rid);
	if (p != NULL && p->answered) {
		*status = p->status;
		*payload = p->payload;
		p->payload = NULL;
		p->answered = false; /* taken */
		got = 1;
	}
	pthread_mutex_unlock(&m->mlock);
	return got;
}

void mqtt_method_forget(struct mqtt *m, const char *rid)
{
	struct pending **pp, *p = NULL;

	pthread_mutex_lock(&m->mlock);
	pp = pending_find(m, rid);
	if ((p = *pp) != NULL) {
		*pp = p->next;
		m->npending--;
	}
	pthread_mutex_unlock(&m->mlock);
	if (p != NULL)
		free(p->payload);
	free(p);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct mqtt *m = obj;
	char id[TWIN_DEVICE_ID_MAX + 1], ridbuf[130];
	const char *t = msg->topic, *slash, *q, *rid;

	(void)mosq;
	if (strncmp(t, MRES, strlen(MRES)) == 0) {
		method_answer(m, t + strlen(MRES), msg->payload, msg->payloadlen);
		return;
	}
	if (strncmp(t, CONN, strlen(CONN)) == 0) {
		online_set(m, t + strlen(CONN),
			   msg->payloadlen == 1 && *(char *)msg->payload == '1');
		return;
	}
	if (strncmp(t, UP, strlen(UP)) != 0)
		return;
	t += strlen(UP);
	if ((slash = strchr(t, '/')) == NULL || (size_t)(slash - t) >= sizeof id)
		return;
	memcpy(id, t, (size_t)(slash - t));
	id[slash - t] = '\0';
	t = slash + 1;
	if (twin_device_id_ok(id) && strncmp(t, "telemetry/", 10) == 0) {
		/* the plugin: devices/{id}/messages/events/{bag}; stored, no answer */
		if (messages_store(m->srv->store, id, t + 10, msg->payload,
				   (size_t)msg->payloadlen) == -2)
			log_kv(LOG_WARN, "device message lost: database unavailable", "device", id,
			       NULL);
		return;
	}
	if (twin_device_id_ok(id) && strcmp(t, "twin/SUBSCRIBE/desired/") == 0) {
		twin_follow(m, id); /* the plugin: id subscribed to desired patches */
		return;
	}
	if (!twin_device_id_ok(id) || (q = strchr(t, '?')) == NULL ||
	    (rid = rid_of(q, ridbuf)) == NULL) {
		log_bad_input("mqtt request without a device or $rid", "topic", msg->topic);
		return; /* nothing to answer to */
	}
	if (strncmp(t, "twin/GET/", 9) == 0)
		twin_get(m, id, rid);
	else if (strncmp(t, "twin/PATCH/properties/reported/", 31) == 0)
		twin_reported(m, id, rid, msg->payload, msg->payloadlen);
	else
		respond_error(m, id, rid, ERR_TWIN_BAD_PATCH, "unknown twin request");
}

/* Subscribed: ask the plugin for the devices connected now, so desired
 * reaches them even when they connected before this orchardd started. */
static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted)
{
	struct mqtt *m = obj;

	(void)mid;
	for (int i = 0; i < n; i++)
		if (granted[i] > 2)
			return;
	if (n != 3)
		return;
	pthread_mutex_lock(&m->mlock);
	m->connected = true;
	pthread_mutex_unlock(&m->mlock);
	mosquitto_publish(mosq, NULL, "orchard/hello", 0, "", 0, false);
}

/* The connection to the broker ended: nobody is known to be connected
 * until the plugin answers the next hello. */
static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *m = obj;

	(void)mosq, (void)rc;
	pthread_mutex_lock(&m->mlock);
	m->connected = false;
	online_clear(m);
	pthread_mutex_unlock(&m->mlock);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	static char *const subs[] = {
		/* a shared subscription: several orchardd split the devices' requests */
		"$share/orchardd/" UP "#",
		/* every orchardd hears every method answer and connection change */
		MRES "#", CONN "#"};

	(void)obj;
	if (rc != 0) {
		log_kv(LOG_WARN, "mqtt broker refused the backend", "reason",
		       mosquitto_connack_string(rc), NULL);
		return;
	}
	rc = mosquitto_subscribe_multiple(mosq, NULL, 3, subs, 0, 0, NULL);
	log_kv(rc == MOSQ_ERR_SUCCESS ? LOG_INFO : LOG_WARN, "mqtt backend connected", "subscribe",
	       mosquitto_strerror(rc), NULL);
}

/* The difference from old to new as an RFC 7396 patch (nulls delete). */
static json_t *merge_diff(const json_t *old, const json_t *new)
{
	json_t *d = json_object(), *v;
	const char *k;

	if (d == NULL)
		return NULL;
	json_object_foreach ((json_t *)old, k, v)
		if (json_object_get(new, k) == NULL)
			json_object_set_new(d, k, json_null());
	json_object_foreach ((json_t *)new, k, v) {
		json_t *o = json_object_get(old, k);

		if (o != NULL && json_equal(o, v))
			continue;
		if (o != NULL && json_is_object(o) && json_is_object(v))
			json_object_set_new(d, k, merge_diff(o, v));
		else
			json_object_set(d, k, v);
	}
	return d;
}

/* Sends device id the change from what it holds to the stored desired. */
static void push_one(struct mqtt *m, const char *id)
{
	struct store_twin row = {0};
	json_t *des = NULL, *patch = NULL;
	char topic[256], *text = NULL;
	struct follow *f;

	if (twin_select(m->srv->store, id, &row) != STORE_ONE ||
	    (des = section_of(row.desired)) == NULL)
		goto out;
	pthread_mutex_lock(&m->lock);
	f = follow_find(m, id, false);
	if (f != NULL && row.desired_version > f->version) {
		json_t *old = f->desired ? json_deep_copy(f->desired) : json_object();

		json_object_del(old, "$version");
		patch = old ? merge_diff(old, des) : NULL;
		json_decref(old);
		if (patch != NULL)
			json_object_del(patch, "$version"),
				json_object_set_new(patch, "$version",
						    json_integer(row.desired_version));
		text = patch ? json_dumps(patch, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (text != NULL) {
			/* $from: the version this diff starts from; the plugin
			 * drops it there, and drops a push another orchardd
			 * already made (several orchardd may follow a device) */
			snprintf(topic, sizeof topic,
				 DOWN "%s/twin/PATCH/properties/desired/?$version=%lld&$from=%lld",
				 id, row.desired_version, f->version);
			publish(m, topic, text);
			follow_set(f, des, row.desired_version);
		}
	}
	pthread_mutex_unlock(&m->lock);
out:
	free(text);
	json_decref(patch);
	json_decref(des);
	store_twin_free(&row);
}

static void *pusher_main(void *cls)
{
	struct mqtt *m = cls;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct follow *f = m->due;
		char id[sizeof f->id];

		if (f == NULL) {
			pthread_cond_wait(&m->cond, &m->lock);
			continue;
		}
		m->due = f->next_due;
		f->dirty = false;
		snprintf(id, sizeof id, "%s", f->id);
		pthread_mutex_unlock(&m->lock);
		push_one(m, id);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Under m->lock. */
static void mark_due(struct mqtt *m, struct follow *f)
{
	if (f->dirty)
		return;
	f->dirty = true;
	f->next_due = m->due;
	m->due = f;
	pthread_cond_broadcast(&m->cond); /* the net thread waits on it too */
}

/* On the event hub's thread: "deviceId desiredVersion", or NULL (look again). */
static void on_twin_event(void *cls, const char *payload)
{
	struct mqtt *m = cls;
	char id[TWIN_DEVICE_ID_MAX + 1];
	const char *sp;
	long long dv = 0;
	struct follow *f;

	pthread_mutex_lock(&m->lock);
	if (payload == NULL) {
		for (int b = 0; b < FOLLOW_BUCKETS; b++)
			for (f = m->buckets[b]; f != NULL; f = f->next)
				mark_due(m, f);
	} else if ((sp = strchr(payload, ' ')) != NULL && (size_t)(sp - payload) < sizeof id) {
		memcpy(id, payload, (size_t)(sp - payload));
		id[sp - payload] = '\0';
		dv = strtoll(sp + 1, NULL, 10);
		if ((f = follow_find(m, id, false)) != NULL && dv > f->version)
			mark_due(m, f);
	}
	pthread_mutex_unlock(&m->lock);
}

/* The backend's network thread: connect, serve until the connection ends,
 * wait a second, again, until mqtt_stop(). libmosquitto's own loop thread
 * gives up for good when the first connect is refused. */
static void *net_main(void *cls)
{
	struct mqtt *m = cls;
	bool warned = false;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec ts;
		int rc;

		pthread_mutex_unlock(&m->lock);
		rc = mosquitto_connect(m->mosq, m->host, m->port, 30);
		if (rc == MOSQ_ERR_SUCCESS) {
			warned = false;
			mosquitto_loop_forever(m->mosq, 1000, 1);
		} else if (!warned) {
			log_kv(LOG_WARN, "mqtt broker not reachable: retrying every second",
			       "error", mosquitto_strerror(rc), NULL);
			warned = true;
		}
		pthread_mutex_lock(&m->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!m->stop)
			pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* host:port of the broker into host and *port. */
static int split_hostport(const char *s, char *host, size_t hostsz, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (colon == NULL || (size_t)(colon - s) >= hostsz || colon == s)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = (int)p;
	return 0;
}

struct secret_init {
	const char *fresh;
	char *out;
};

static enum store_qs secret_cb(struct store_conn *c, void *cls)
{
	struct secret_init *si = cls;

	free(si->out);
	si->out = NULL;
	return store_upsert_dps_setting(c, "mqtt_backend_secret", si->fresh, false, &si->out);
}

/* The backend's secret, the same for every orchardd of one database: the
 * first one stores a random one, the others read it, so whichever orchardd
 * the plugin asks (plugin_opt_socket may list several) knows every
 * orchardd's backend connection. */
static int backend_secret(struct server *srv, char *out, size_t cap)
{
	unsigned char raw[32];
	char fresh[sizeof raw * 2 + 1];
	struct secret_init si = {.fresh = fresh};
	int rc = -1;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	hex_encode(raw, sizeof raw, fresh);
	if (store_run(srv->store, secret_cb, &si) == STORE_ONE && si.out != NULL &&
	    strlen(si.out) >= 32 && strlen(si.out) < cap) {
		snprintf(out, cap, "%s", si.out);
		rc = 0;
	} else
		log_kv(LOG_ERROR, "cannot read or store the mqtt backend secret", NULL);
	if (si.out != NULL)
		OPENSSL_cleanse(si.out, strlen(si.out));
	free(si.out);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(fresh, sizeof fresh);
	return rc;
}

struct mqtt *mqtt_start(struct server *srv, int *failed)
{
	const struct config *cfg = &srv->cfg;
	unsigned char raw[32], rp[4];
	char secret[sizeof raw * 2 + 1], cid[64], host[256], *sock = NULL;
	struct mqtt *m = NULL;
	int port;

	*failed = 0;
	if (cfg->mqtt_broker == NULL || cfg->mqtt_broker[0] == '\0')
		return NULL;
	*failed = 1;
	if (split_hostport(cfg->mqtt_broker, host, sizeof host, &port) != 0 ||
	    strlen(host) >= sizeof m->host) {
		log_kv(LOG_ERROR, "--mqtt-broker must be host:port", "value", cfg->mqtt_broker,
		       NULL);
		return NULL;
	}
	secret[0] = '\0';
	if ((m = calloc(1, sizeof *m)) == NULL)
		goto fail;
	m->srv = srv;
	snprintf(m->host, sizeof m->host, "%s", host);
	m->port = port;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->mlock, NULL);
	pthread_cond_init(&m->cond, NULL);
	if (RAND_bytes(raw, sizeof raw) != 1 || backend_secret(srv, secret, sizeof secret) != 0)
		goto fail;
	if (RAND_bytes(rp, sizeof rp) != 1)
		goto fail;
	hex_encode(rp, sizeof rp, m->rid_prefix);
	if (cfg->mqtt_socket != NULL)
		sock = strdup(cfg->mqtt_socket);
	else if (asprintf(&sock, "%s/run", cfg->data_dir) < 0)
		sock = NULL;
	else if (mkdir(sock, 0750) != 0 && errno != EEXIST)
		log_kv(LOG_WARN, "cannot make the socket's folder", "path", sock, NULL);
	else if (free(sock), asprintf(&sock, "%s/run/mqtt.sock", cfg->data_dir) < 0)
		sock = NULL;
	if (sock == NULL || (m->auth = mqtt_auth_start(srv, sock, cfg->mqtt_user, secret)) == NULL)
		goto fail;
	if (pthread_create(&m->pusher, NULL, pusher_main, m) != 0)
		goto fail;
	m->pusher_started = true;
	if (events_subscribe(srv->events, &m->sub, EVENTS_TWIN, "", on_twin_event, m) != 0)
		goto fail;
	m->subscribed = true;
	mosquitto_lib_init();
	snprintf(cid, sizeof cid, "orchardd-%ld-%02x%02x%02x", (long)getpid(), raw[0] ^ raw[31],
		 raw[1] ^ raw[30], raw[2] ^ raw[29]);
	if ((m->mosq = mosquitto_new(cid, true, m)) == NULL)
		goto fail;
	mosquitto_username_pw_set(m->mosq, cfg->mqtt_user, secret);
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_message_callback_set(m->mosq, on_message);
	mosquitto_subscribe_callback_set(m->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (pthread_create(&m->net, NULL, net_main, m) != 0)
		goto fail;
	m->net_started = true;
	OPENSSL_cleanse(secret, sizeof secret);
	free(sock);
	*failed = 0;
	return m;
fail:
	OPENSSL_cleanse(secret, sizeof secret);
	log_kv(LOG_ERROR, "cannot start the mqtt backend", NULL);
	free(sock);
	mqtt_stop(m);
	return NULL;
}

void mqtt_stop(struct mqtt *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->net_started) {
		/* ends mosquitto_loop_forever(); again if it was still connecting */
		for (;;) {
			struct timespec ts;

			mosquitto_disconnect(m->mosq);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000L;
			if (ts.tv_nsec >= 1000000000L)
				ts.tv_sec++, ts.tv_nsec -= 1000000000L;
			if (pthread_timedjoin_np(m->net, NULL, &ts) == 0)
				break;
		}
	}
	if (m->mosq != NULL) {
		mosquitto_destroy(m->mosq);
		mosquitto_lib_cleanup();
	}
	if (m->subscribed)
		events_unsubscribe(m->srv->events, &m->sub);
	if (m->pusher_started)
		pthread_join(m->pusher, NULL);
	mqtt_auth_stop(m->auth);
	for (int b = 0; b < FOLLOW_BUCKETS; b++)
		for (struct follow *f = m->buckets[b], *n; f != NULL; f = n) {
			n = f->next;
			json_decref(f->desired);
			free(f);
		}
	online_clear(m);
	for (struct pending *p = m->pending, *n; p != NULL; p = n) {
		n = p->next;
		free(p->payload);
		free(p);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->mlock);
	pthread_cond_destroy(&m->cond);
	free(m);
}
