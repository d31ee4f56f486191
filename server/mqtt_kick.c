/* The MQTT backend ends connections the broker would otherwise keep until
 * a credential expires: those that presented a certificate just revoked
 * (EVENTS_CERT_REVOKED), and the devices of an enrollment just disabled
 * or deleted (EVENTS_DPS_ENROLLMENT), as IoT Hub disconnects a disabled
 * device. The plugin does the disconnecting (orchard/revoked, orchard/kick). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/mqtt_int.h"
#include "server/server.h"
#include "server/store/dps.h"

void mqtt__on_cert_revoked(void *cls, const char *payload)
{
	struct mqtt *m = cls;

	/* NULL (the hub reconnected): nothing to name; such a device is
	 * refused at its next CONNECT */
	if (payload != NULL && payload[strspn(payload, "0123456789abcdefABCDEF")] == '\0')
		mqtt__publish(m, REVOKED, payload);
}

void mqtt__on_enrollment_event(void *cls, const char *payload)
{
	struct mqtt *m = cls;
	size_t n = payload ? strlen(payload) : 0;
	struct kick_job *j;

	/* "kind id"; the query must not run on the hub's thread: the pusher's */
	if (payload == NULL || strchr(payload, ' ') == NULL ||
	    (j = calloc(1, sizeof *j + n + 1)) == NULL)
		return;
	memcpy(j->key, payload, n + 1);
	pthread_mutex_lock(&m->lock);
	j->next = m->kicks;
	m->kicks = j;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

struct devices_off {
	struct mqtt *m;
	char *kind, *id;
	int n;
};

static void kick_one(void *cls, const char *device_id)
{
	struct devices_off *d = cls;

	mqtt__publish(d->m, KICK, device_id);
	d->n++;
}

static enum store_qs off_cb(struct store_conn *c, void *cls)
{
	struct devices_off *d = cls;

	d->n = 0;
	return store_select_dps_devices_off(c, d->kind, d->id, kick_one, d);
}

void mqtt__kick_run(struct mqtt *m, struct kick_job *j)
{
	char *sp = strchr(j->key, ' '), n[16];
	struct devices_off d = {.m = m, .kind = j->key, .id = sp + 1};

	*sp = '\0';
	if (store_run(m->srv->store, off_cb, &d) < 0)
		log_kv(LOG_WARN,
		       "devices of a disabled enrollment stay connected: database unavailable",
		       "enrollment", d.id, NULL);
	else if (d.n > 0) {
		snprintf(n, sizeof n, "%d", d.n);
		log_kv(LOG_INFO, "the broker told to disconnect a disabled enrollment's devices",
		       "enrollment", d.id, "devices", n, NULL);
	}
	free(j);
}

void mqtt__kicks_free(struct mqtt *m)
{
	for (struct kick_job *j = m->kicks, *n; j != NULL; j = n) {
		n = j->next;
		free(j);
	}
	m->kicks = NULL;
}
