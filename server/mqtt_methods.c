/* The MQTT backend's direct methods (IoT Hub's $iothub/methods/...), for
 * POST /twins/{id}/methods: the devices connected to the broker now (the
 * plugin tells every orchardd of each connect and disconnect), the calls
 * on their way and their answers, which reach every orchardd and are kept
 * by the one whose $rid it is. */
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/mqtt_int.h"
#include "server/server.h"

/* Under m->mlock. */
static struct online **online_find(struct mqtt *m, const char *id)
{
	struct online **o = &m->online[mqtt__bucket_of(id) % ONLINE_BUCKETS];

	while (*o != NULL && strcmp((*o)->id, id) != 0)
		o = &(*o)->next;
	return o;
}

void mqtt__online_clear(struct mqtt *m)
{
	for (int b = 0; b < ONLINE_BUCKETS; b++)
		for (struct online *o = m->online[b], *n; o != NULL; o = n) {
			n = o->next;
			free(o);
		}
	memset(m->online, 0, sizeof m->online);
}

void mqtt__online_set(struct mqtt *m, const char *id, bool on)
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
void mqtt__method_answer(struct mqtt *m, const char *t, const void *payload, int len)
{
	char id[TWIN_DEVICE_ID_MAX + 1], st[16], ridbuf[130];
	const char *slash = strchr(t, '/'), *slash2, *rid;
	struct pending *p;
	bool woke = false;
	long status;

	if (slash == NULL || (size_t)(slash - t) >= sizeof id ||
	    (slash2 = strchr(slash + 1, '/')) == NULL ||
	    (size_t)(slash2 - slash - 1) >= sizeof st || slash2 == slash + 1 ||
	    (rid = mqtt__rid_of(slash2, ridbuf)) == NULL ||
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

void mqtt__pending_free(struct mqtt *m)
{
	for (struct pending *p = m->pending, *n; p != NULL; p = n) {
		n = p->next;
		free(p->payload);
		free(p);
	}
	m->pending = NULL;
	m->npending = 0;
}
