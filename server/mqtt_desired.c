/* The MQTT backend's desired pushes. Every twin change is announced on
 * EVENTS_TWIN ("deviceId desiredVersion"). For a device that has read its
 * twin over MQTT since orchardd started (the SDK GETs on every connect),
 * subscribed to desired patches, or was connected when this orchardd said
 * hello to the plugin, the pusher thread reads the twin and sends the
 * difference from the desired it last sent, as a merge patch with its
 * $version, so deletions travel as nulls. Nothing is lost across a
 * reconnect: the device's next GET carries the whole twin. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/mqtt_int.h"
#include "server/server.h"

struct follow *mqtt__follow_find(struct mqtt *m, const char *id, bool create)
{
	unsigned b = mqtt__bucket_of(id) % FOLLOW_BUCKETS;
	struct follow *f;

	for (f = m->buckets[b]; f != NULL; f = f->next)
		if (strcmp(f->id, id) == 0)
			return f;
	if (!create || (f = calloc(1, sizeof *f)) == NULL)
		return NULL;
	snprintf(f->id, sizeof f->id, "%s", id);
	f->next = m->buckets[b];
	m->buckets[b] = f;
	m->nfollows++;
	return f;
}

void mqtt__follow_drop(struct mqtt *m, const char *id)
{
	struct follow **p, *f;

	pthread_mutex_lock(&m->lock);
	for (p = &m->buckets[mqtt__bucket_of(id) % FOLLOW_BUCKETS]; (f = *p) != NULL; p = &f->next)
		if (strcmp(f->id, id) == 0)
			break;
	if (f != NULL) {
		*p = f->next;
		/* the pusher takes ids off the due list, never pointers */
		for (struct follow **d = &m->due; *d != NULL; d = &(*d)->next_due)
			if (*d == f) {
				*d = f->next_due;
				break;
			}
		m->nfollows--;
		json_decref(f->desired);
		free(f);
	}
	pthread_mutex_unlock(&m->lock);
}

size_t mqtt_follows(struct mqtt *m)
{
	size_t n;

	if (m == NULL)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->nfollows;
	pthread_mutex_unlock(&m->lock);
	return n;
}

json_t *mqtt__section_of(const char *text)
{
	json_t *s = json_loads(text, 0, NULL);

	if (s != NULL)
		json_object_del(s, "$metadata");
	return s;
}

void mqtt__follow_set(struct follow *f, json_t *desired, long long v)
{
	json_decref(f->desired);
	f->desired = json_incref(desired);
	f->version = v;
}

void mqtt__twin_follow(struct mqtt *m, const char *id)
{
	struct store_twin row = {0};
	json_t *des = NULL;
	struct follow *f;

	if (twin_select(m->srv->store, id, &row) != STORE_ONE ||
	    (des = mqtt__section_of(row.desired)) == NULL)
		goto out;
	pthread_mutex_lock(&m->lock);
	if ((f = mqtt__follow_find(m, id, true)) != NULL && f->desired == NULL)
		mqtt__follow_set(f, des, row.desired_version);
	pthread_mutex_unlock(&m->lock);
out:
	json_decref(des);
	store_twin_free(&row);
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
	    (des = mqtt__section_of(row.desired)) == NULL)
		goto out;
	pthread_mutex_lock(&m->lock);
	f = mqtt__follow_find(m, id, false);
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
			mqtt__publish(m, topic, text);
			mqtt__follow_set(f, des, row.desired_version);
		}
	}
	pthread_mutex_unlock(&m->lock);
out:
	free(text);
	json_decref(patch);
	json_decref(des);
	store_twin_free(&row);
}

void *mqtt__pusher_main(void *cls)
{
	struct mqtt *m = cls;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct follow *f = m->due;
		char id[sizeof f->id];

		if (m->kicks != NULL) {
			struct kick_job *j = m->kicks;

			m->kicks = j->next;
			pthread_mutex_unlock(&m->lock);
			mqtt__kick_run(m, j);
			pthread_mutex_lock(&m->lock);
			continue;
		}
		if (f == NULL && mqtt__c2d_take_due(m, id)) {
			pthread_mutex_unlock(&m->lock);
			mqtt__c2d_deliver(m, id);
			pthread_mutex_lock(&m->lock);
			continue;
		}
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
void mqtt__on_twin_event(void *cls, const char *payload)
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
		if ((f = mqtt__follow_find(m, id, false)) != NULL && dv > f->version)
			mark_due(m, f);
	}
	pthread_mutex_unlock(&m->lock);
}

void mqtt__follows_free(struct mqtt *m)
{
	for (int b = 0; b < FOLLOW_BUCKETS; b++)
		for (struct follow *f = m->buckets[b], *n; f != NULL; f = n) {
			n = f->next;
			json_decref(f->desired);
			free(f);
		}
	memset(m->buckets, 0, sizeof m->buckets);
	m->nfollows = 0;
}
