/* Internal to the MQTT backend's files (server/mqtt*.c): the backend's
 * state and the calls between its parts. Names with mqtt__ are for these
 * files only; the rest of orchardd includes server/mqtt.h.
 *
 *   server/mqtt.c          the connection to the broker: start and stop,
 *                          the network thread, topic dispatch, the secret
 *   server/mqtt_twin.c     answers to a device's twin GET and reported PATCH
 *   server/mqtt_desired.c  the devices followed and the desired pushes
 *   server/mqtt_methods.c  direct methods and which devices are connected
 *   server/mqtt_c2d.c      cloud-to-device messages to the devices listening
 *   server/mqtt_kick.c     ending the connections of revoked or disabled devices */
#ifndef ORCHARD_MQTT_INT_H
#define ORCHARD_MQTT_INT_H
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/errors_gen.h"
#include "server/mqtt.h"
#include "server/store/events.h"
#include "server/twins.h"

#define UP "orchard/up/"
#define DOWN "orchard/down/"
#define MRES "orchard/mres/" /* a device's method answer, to every orchardd */
/* To every orchardd: "1"/"0", a device takes direct methods or no longer;
 * "x", it left (its last connection ended) */
#define CONN "orchard/conn/"
#define REVOKED "orchard/revoked" /* a certificate's serial: its connections end */
#define KICK "orchard/kick"	  /* a device id: its connection ends */
#define ONLINE_BUCKETS 1024
#define PENDING_MAX 10000
#define MQTT_PAYLOAD_MAX (64 * 1024) /* the HTTPS route's body cap */
#define FOLLOW_BUCKETS 1024
#define C2D_BUCKETS 1024

/* A device that read its twin over MQTT: what desired it holds. */
struct follow {
	char id[TWIN_DEVICE_ID_MAX + 1];
	json_t *desired;	 /* as last sent, without $metadata */
	long long version;	 /* its $version */
	bool dirty;		 /* a push is due */
	struct follow *next;	 /* bucket */
	struct follow *next_due; /* the pusher's list */
};

/* A device listening for cloud-to-device messages. */
struct c2d_dev {
	char id[TWIN_DEVICE_ID_MAX + 1];
	bool due;		  /* its queue is to be looked at */
	struct c2d_dev *next;	  /* bucket */
	struct c2d_dev *next_due; /* the pusher's list */
};

/* An enrollment changed ("kind id"): its devices are disconnected if it
 * is disabled or gone. */
struct kick_job {
	struct kick_job *next;
	char key[]; /* "kind id" */
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
	size_t nfollows;
	struct c2d_dev *c2d[C2D_BUCKETS]; /* under lock, as follows */
	struct c2d_dev *c2d_due;
	struct kick_job *kicks; /* under lock */
	struct event_sub c2d_sub, revoked_sub, enrollment_sub;
	bool c2d_subscribed, revoked_subscribed, enrollment_subscribed;
	/* direct methods */
	pthread_mutex_t mlock; /* connected, online, pending, next_rid */
	bool connected;	       /* to the broker, subscribed */
	struct online *online[ONLINE_BUCKETS];
	struct pending *pending;
	size_t npending;
	unsigned long long next_rid;
	char rid_prefix[9]; /* random: rids are unique across orchardd instances */
};

/* mqtt.c */
/* FNV-1a of a device id; callers take it modulo their table's size. */
unsigned mqtt__bucket_of(const char *id);
/* Publishes body (text) on topic at QoS 0; a failure is logged. */
void mqtt__publish(struct mqtt *m, const char *topic, const char *body);
/* The same with len bytes of body, unlogged: mosquitto's error code. */
int mqtt__publish_n(struct mqtt *m, const char *topic, const void *body, size_t len);
/* "$rid=" from a topic's query into out (NULL when absent or unsafe to echo). */
const char *mqtt__rid_of(const char *query, char out[130]);

/* mqtt_twin.c: the device's requests, each answered on its twin/res topic. */
void mqtt__twin_get(struct mqtt *m, const char *id, const char *rid);
void mqtt__twin_reported(struct mqtt *m, const char *id, const char *rid, const void *payload,
			 int len);
/* Answers request rid of device id with err as IoT Hub's error body. */
void mqtt__respond_error(struct mqtt *m, const char *id, const char *rid, enum err_code err,
			 const char *detail);

/* mqtt_desired.c */
/* Under m->lock: the device's follow entry, made when create and absent
 * (NULL when absent or out of memory). */
struct follow *mqtt__follow_find(struct mqtt *m, const char *id, bool create);
/* Forgets device id (it left the broker): a reconnect, which GETs its
 * twin or, with a persistent session, is announced by the plugin, follows
 * it again, so a fleet's churn holds no memory here. */
void mqtt__follow_drop(struct mqtt *m, const char *id);
/* Under m->lock: f now holds desired (version v). */
void mqtt__follow_set(struct follow *f, json_t *desired, long long v);
/* A section as the device sees it: values and $version, no $metadata (new). */
json_t *mqtt__section_of(const char *text);
/* Starts following id from its stored desired, unless already followed. */
void mqtt__twin_follow(struct mqtt *m, const char *id);
/* The pusher thread: sends due devices their desired change and their
 * cloud-to-device messages (mqtt_c2d.c), and ends the connections of a
 * disabled enrollment's devices (mqtt_kick.c), until m->stop. */
void *mqtt__pusher_main(void *cls);
/* EVENTS_TWIN's callback: marks the device (NULL: every device) due. */
void mqtt__on_twin_event(void *cls, const char *payload);
/* Frees every follow entry (at stop, the threads joined). */
void mqtt__follows_free(struct mqtt *m);

/* mqtt_c2d.c */
/* The plugin: id listens for cloud-to-device messages; its queue is due. */
void mqtt__c2d_listen(struct mqtt *m, const char *id);
/* id left: no longer listening. */
void mqtt__c2d_forget(struct mqtt *m, const char *id);
/* EVENTS_C2D's callback: a listening device's queue grew (NULL: look at all). */
void mqtt__on_c2d_event(void *cls, const char *payload);
/* Under m->lock: the next device whose queue is due, into id; false: none. */
bool mqtt__c2d_take_due(struct mqtt *m, char id[TWIN_DEVICE_ID_MAX + 1]);
/* The pusher: takes id's queued messages and publishes them to it. */
void mqtt__c2d_deliver(struct mqtt *m, const char *id);
/* The plugin could not hand message row (decimal text) to id: queue it again. */
void mqtt__c2d_undelivered(struct mqtt *m, const char *id, const char *row);
/* Frees the listeners (at stop, the threads joined). */
void mqtt__c2d_free(struct mqtt *m);

/* mqtt_kick.c */
/* EVENTS_CERT_REVOKED's callback: the plugin ends the connections that
 * presented that certificate (payload: its serial). */
void mqtt__on_cert_revoked(void *cls, const char *payload);
/* EVENTS_DPS_ENROLLMENT's callback: queues the enrollment for the pusher. */
void mqtt__on_enrollment_event(void *cls, const char *payload);
/* The pusher: ends the connections of j's devices if its enrollment is
 * disabled or gone; frees j. */
void mqtt__kick_run(struct mqtt *m, struct kick_job *j);
/* Frees the queued jobs (at stop, the threads joined). */
void mqtt__kicks_free(struct mqtt *m);

/* mqtt_methods.c */
/* The plugin: device id connected (on) or left its last connection. */
void mqtt__online_set(struct mqtt *m, const char *id, bool on);
/* Under m->mlock: forgets every connected device. */
void mqtt__online_clear(struct mqtt *m);
/* t: "<deviceId>/<status>/?$rid=R" from the plugin, a method's answer. */
void mqtt__method_answer(struct mqtt *m, const char *t, const void *payload, int len);
/* Frees the calls still on their way (at stop). */
void mqtt__pending_free(struct mqtt *m);

#endif
