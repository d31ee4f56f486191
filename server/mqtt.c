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
 * This file is the connection: start, stop, the network thread, the
 * backend's secret and the dispatch of what the broker delivers. Twin
 * answers are in mqtt_twin.c, desired pushes in mqtt_desired.c (once
 * subscribed, "orchard/hello" asks the plugin which devices are connected,
 * so they are followed too), direct methods in mqtt_methods.c; their
 * shared state is in mqtt_int.h. */
#include "server/mqtt_int.h"

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

#include "common/hash.h"
#include "common/hex.h"
#include "common/log.h"
#include "server/messages.h"
#include "server/mqtt_auth.h"
#include "server/server.h"
#include "server/store/dps.h"

unsigned mqtt__bucket_of(const char *id)
{
	return hash_fnv1a_str(id);
}

void mqtt__publish(struct mqtt *m, const char *topic, const char *body)
{
	int rc = mqtt__publish_n(m, topic, body, strlen(body));

	if (rc != MOSQ_ERR_SUCCESS)
		log_kv(LOG_WARN, "mqtt publish failed", "topic", topic, "error",
		       mosquitto_strerror(rc), NULL);
}

int mqtt__publish_n(struct mqtt *m, const char *topic, const void *body, size_t len)
{
	return mosquitto_publish(m->mosq, NULL, topic, (int)len, body, 0, false);
}

const char *mqtt__rid_of(const char *query, char out[130])
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

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct mqtt *m = obj;
	char id[TWIN_DEVICE_ID_MAX + 1], ridbuf[130];
	const char *t = msg->topic, *slash, *q, *rid;

	(void)mosq;
	if (strncmp(t, MRES, strlen(MRES)) == 0) {
		mqtt__method_answer(m, t + strlen(MRES), msg->payload, msg->payloadlen);
		return;
	}
	if (strncmp(t, CONN, strlen(CONN)) == 0) {
		char what = msg->payloadlen == 1 ? *(char *)msg->payload : '0';

		mqtt__online_set(m, t + strlen(CONN), what == '1');
		if (what == 'x') { /* it left: its next connection is followed anew */
			mqtt__follow_drop(m, t + strlen(CONN));
			mqtt__c2d_forget(m, t + strlen(CONN));
		}
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
	if (twin_device_id_ok(id) && strcmp(t, "c2d/SUBSCRIBE/") == 0) {
		mqtt__c2d_listen(m, id); /* the plugin: id listens for cloud-to-device messages */
		return;
	}
	if (twin_device_id_ok(id) && strncmp(t, "c2d/UNDELIVERED/", 16) == 0) {
		mqtt__c2d_undelivered(m, id, t + 16);
		return;
	}
	if (twin_device_id_ok(id) && strcmp(t, "twin/SUBSCRIBE/desired/") == 0) {
		mqtt__twin_follow(m, id); /* the plugin: id subscribed to desired patches */
		return;
	}
	if (!twin_device_id_ok(id) || (q = strchr(t, '?')) == NULL ||
	    (rid = mqtt__rid_of(q, ridbuf)) == NULL) {
		log_bad_input("mqtt request without a device or $rid", "topic", msg->topic);
		return; /* nothing to answer to */
	}
	if (strncmp(t, "twin/GET/", 9) == 0)
		mqtt__twin_get(m, id, rid);
	else if (strncmp(t, "twin/PATCH/properties/reported/", 31) == 0)
		mqtt__twin_reported(m, id, rid, msg->payload, msg->payloadlen);
	else
		mqtt__respond_error(m, id, rid, ERR_TWIN_BAD_PATCH, "unknown twin request");
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
	mqtt__online_clear(m);
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
	if (pthread_create(&m->pusher, NULL, mqtt__pusher_main, m) != 0)
		goto fail;
	m->pusher_started = true;
	if (events_subscribe(srv->events, &m->sub, EVENTS_TWIN, "", mqtt__on_twin_event, m) != 0)
		goto fail;
	m->subscribed = true;
	if (events_subscribe(srv->events, &m->c2d_sub, EVENTS_C2D, "", mqtt__on_c2d_event, m) != 0)
		goto fail;
	m->c2d_subscribed = true;
	if (events_subscribe(srv->events, &m->revoked_sub, EVENTS_CERT_REVOKED, "",
			     mqtt__on_cert_revoked, m) != 0)
		goto fail;
	m->revoked_subscribed = true;
	if (events_subscribe(srv->events, &m->enrollment_sub, EVENTS_DPS_ENROLLMENT, "",
			     mqtt__on_enrollment_event, m) != 0)
		goto fail;
	m->enrollment_subscribed = true;
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
	if (m->c2d_subscribed)
		events_unsubscribe(m->srv->events, &m->c2d_sub);
	if (m->revoked_subscribed)
		events_unsubscribe(m->srv->events, &m->revoked_sub);
	if (m->enrollment_subscribed)
		events_unsubscribe(m->srv->events, &m->enrollment_sub);
	if (m->pusher_started)
		pthread_join(m->pusher, NULL);
	mqtt_auth_stop(m->auth);
	mqtt__follows_free(m);
	mqtt__c2d_free(m);
	mqtt__kicks_free(m);
	mqtt__online_clear(m);
	mqtt__pending_free(m);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->mlock);
	pthread_cond_destroy(&m->cond);
	free(m);
}
