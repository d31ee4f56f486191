/* The MQTT backend's cloud-to-device deliveries. A device that subscribed
 * to devices/{id}/messages/devicebound/# listens (the plugin says so, and
 * again when a persistent session holding that subscription reconnects):
 * the pusher thread takes its queued messages (server/store/c2d.h) and
 * publishes each to it through the plugin, at once and whenever
 * EVENTS_C2D says its queue grew, until it leaves. A message the plugin
 * could not hand over (the device had just left) is queued again. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/messages.h"
#include "server/mqtt_int.h"
#include "server/server.h"
#include "server/store/c2d.h"

/* Under m->lock: the link to id's entry, or where it would go. */
static struct c2d_dev **c2d_find(struct mqtt *m, const char *id)
{
	struct c2d_dev **p = &m->c2d[mqtt__bucket_of(id) % C2D_BUCKETS];

	while (*p != NULL && strcmp((*p)->id, id) != 0)
		p = &(*p)->next;
	return p;
}

/* Under m->lock. */
static void c2d_mark_due(struct mqtt *m, struct c2d_dev *d)
{
	if (d->due)
		return;
	d->due = true;
	d->next_due = m->c2d_due;
	m->c2d_due = d;
	pthread_cond_broadcast(&m->cond);
}

void mqtt__c2d_listen(struct mqtt *m, const char *id)
{
	struct c2d_dev **p, *d;

	pthread_mutex_lock(&m->lock);
	p = c2d_find(m, id);
	if (*p == NULL && (*p = calloc(1, sizeof **p)) != NULL)
		snprintf((*p)->id, sizeof(*p)->id, "%s", id);
	if ((d = *p) != NULL)
		c2d_mark_due(m, d);
	pthread_mutex_unlock(&m->lock);
}

void mqtt__c2d_forget(struct mqtt *m, const char *id)
{
	struct c2d_dev **p, *d;

	pthread_mutex_lock(&m->lock);
	p = c2d_find(m, id);
	if ((d = *p) != NULL) {
		*p = d->next;
		/* the pusher takes ids off the due list, never pointers */
		for (struct c2d_dev **q = &m->c2d_due; *q != NULL; q = &(*q)->next_due)
			if (*q == d) {
				*q = d->next_due;
				break;
			}
		free(d);
	}
	pthread_mutex_unlock(&m->lock);
}

void mqtt__on_c2d_event(void *cls, const char *payload)
{
	struct mqtt *m = cls;
	struct c2d_dev *d;

	pthread_mutex_lock(&m->lock);
	if (payload == NULL) { /* the hub reconnected: look at every listener */
		for (int b = 0; b < C2D_BUCKETS; b++)
			for (d = m->c2d[b]; d != NULL; d = d->next)
				c2d_mark_due(m, d);
	} else if ((d = *c2d_find(m, payload)) != NULL)
		c2d_mark_due(m, d);
	pthread_mutex_unlock(&m->lock);
}

bool mqtt__c2d_take_due(struct mqtt *m, char id[TWIN_DEVICE_ID_MAX + 1])
{
	struct c2d_dev *d = m->c2d_due;

	if (d == NULL)
		return false;
	m->c2d_due = d->next_due;
	d->due = false;
	snprintf(id, TWIN_DEVICE_ID_MAX + 1, "%s", d->id);
	return true;
}

struct c2d_take {
	const char *id;
	struct store_c2d_list l;
};

static enum store_qs take_cb(struct store_conn *c, void *cls)
{
	struct c2d_take *t = cls;

	store_c2d_list_free(&t->l);
	return store_take_c2d(c, t->id, &t->l);
}

void mqtt__c2d_deliver(struct mqtt *m, const char *id)
{
	struct c2d_take t = {.id = id};
	char topic[MESSAGES_BAG_MAX + 256];

	if (store_run(m->srv->store, take_cb, &t) < 0) {
		log_kv(LOG_WARN, "cloud-to-device delivery deferred: database unavailable",
		       "device", id, NULL);
		return; /* still queued: the next listen or send tries again */
	}
	for (int i = 0; i < t.l.n; i++) {
		struct store_c2d *e = &t.l.items[i];
		char *bag = messages_bag(id, e->system_properties, e->properties, e->expires_at);
		char row[24];

		snprintf(row, sizeof row, "%lld", e->id);
		/* the row's id rides along, for the plugin's "not handed over" */
		if (bag == NULL || snprintf(topic, sizeof topic, DOWN "%s/devicebound/%s/%s", id,
					    row, bag) >= (int)sizeof topic)
			log_bug("cloud-to-device message without its topic", "device", id);
		else if (mqtt__publish_n(m, topic, e->body, e->len) != 0) {
			log_kv(LOG_WARN, "cloud-to-device message not sent: no broker", "device",
			       id, NULL);
			mqtt__c2d_undelivered(m, id, row); /* the next listen sends it */
		}
		free(bag);
	}
	store_c2d_list_free(&t.l);
}

struct c2d_requeue {
	const char *id;
	long long row;
};

static enum store_qs requeue_cb(struct store_conn *c, void *cls)
{
	struct c2d_requeue *r = cls;

	return store_requeue_c2d(c, r->id, r->row);
}

void mqtt__c2d_undelivered(struct mqtt *m, const char *id, const char *row)
{
	struct c2d_requeue r = {.id = id, .row = strtoll(row, NULL, 10)};

	/* the plugin could not hand it over: the device is not listening now */
	mqtt__c2d_forget(m, id);

	if (r.row > 0 && store_run(m->srv->store, requeue_cb, &r) < 0)
		log_kv(LOG_WARN, "cloud-to-device message lost: database unavailable", "device", id,
		       NULL);
}

void mqtt__c2d_free(struct mqtt *m)
{
	for (int b = 0; b < C2D_BUCKETS; b++)
		for (struct c2d_dev *d = m->c2d[b], *n; d != NULL; d = n) {
			n = d->next;
			free(d);
		}
	memset(m->c2d, 0, sizeof m->c2d);
	m->c2d_due = NULL;
}
