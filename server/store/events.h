/* The event hub: one LISTEN connection per process delivers PostgreSQL
 * NOTIFY payloads on named channels to whoever waits on that channel and key. */
#ifndef ORCHARD_EVENTS_H
#define ORCHARD_EVENTS_H

#define EVENTS_KEY_MAX 160 /* a device ID (128) fits */

/* The channels orchardd LISTENs on; the statements that change the data
 * pg_notify() them in the same transaction. */
#define EVENTS_AUDIT "orchard_audit"		       /* payload: the new audit entry's id */
#define EVENTS_TOKEN_REVOKED "orchard_token_revoked"   /* payload: the revoked token's jti */
#define EVENTS_DPS_ENROLLMENT "orchard_dps_enrollment" /* payload: "kind id" of the enrollment */
#define EVENTS_DPS_REGISTRATION "orchard_dps_registration" /* payload: the registration ID */
#define EVENTS_TWIN "orchard_twin" /* payload: "deviceId desiredVersion" of a changed twin */
#define EVENTS_TWIN_CONFIGURATION "orchard_twin_config" /* payload: the configuration ID */
#define EVENTS_DEVICE_MESSAGE "orchard_device_message"	/* payload: "deviceId id" of telemetry */
#define EVENTS_C2D "orchard_c2d" /* payload: the deviceId whose cloud-to-device queue grew */
/* Local only (events_post, never NOTIFY'd): "rid" of a direct method's
 * answer, or "deviceId" of a device that connected to the MQTT broker. */
#define EVENTS_MQTT_METHOD "orchard_mqtt_method"
#define EVENTS_MQTT_CONNECT "orchard_mqtt_connect"
#define EVENTS_ACME_ACCOUNT "orchard_acme_account" /* payload: the changed account's id */
#define EVENTS_ACME_AUTHZ "orchard_acme_authz"	   /* payload: the changed authorization's id */
/* This process only (events_post): a validation job ended; payload the
 * challenge's id, its outcome held by server/acme_outcomes.c when the
 * store took it. */
#define EVENTS_ACME_OUTCOME "orchard_acme_outcome"
#define EVENTS_CERT_REVOKED "orchard_cert_revoked" /* payload: the revoked certificate's serial */
#define EVENTS_ATTEST_AK                                                                           \
	"orchard_attest_ak" /* payload: "registrationId serial" of a new AK cert                   \
			     */
#define EVENTS_DEPOT_COMPILED "orchard_depot_compiled" /* payload: "{module sha256} {target}" */
#define EVENTS_DEPOT                                                                               \
	"orchard_depot" /* payload: "{publisher}/pkg/{name}/{version}" published or yanked */

struct events;

/* Caller-owned, like struct timer: embed it in the waiting object. */
struct event_sub {
	const char *channel;
	char key[EVENTS_KEY_MAX];
	void (*cb)(void *cls, const char *payload);
	void *cls;
	struct event_sub *next, **pprev; /* bucket list; pprev NULL while not subscribed */
};

/* Starts the listener thread on its own connection to url, LISTENing on
 * each of channels (NULL-terminated, static strings). Connects in the
 * background and reconnects on its own. NULL when out of memory. */
struct events *events_start(const char *url, const char *const *channels);
void events_stop(struct events *ev);

/* Delivers, until unsubscribed, every payload on channel whose key (the
 * payload up to its first space) equals key; key "" takes every payload.
 * cb runs on the hub's thread with the hub's lock held: keep it short. It
 * gets NULL for "the listener reconnected: something may have been
 * missed", so a waiter must look again. Returns -1 when key is too long. */
int events_subscribe(struct events *ev, struct event_sub *sub, const char *channel, const char *key,
		     void (*cb)(void *cls, const char *payload), void *cls);

/* Delivers payload on channel to this process's subscribers only, as if
 * it had been NOTIFY'd (for events that come from elsewhere than the
 * database: the MQTT broker). */
void events_post(struct events *ev, const char *channel, const char *payload);

/* NOTIFY after commit: queues payload on channel (neither may hold a
 * newline) for the hub's notifier thread, which sends everything queued
 * meanwhile in one transaction on its own connection, so the writer's
 * commit takes no notify lock. For changes already committed; a crash
 * before the send loses the wake (never the change): use it only where a
 * waiter's timeout makes it look again. Never blocks on the network. */
void events_notify(struct events *ev, const char *channel, const char *payload);

/* After this returns, sub's callback is neither running nor due. */
void events_unsubscribe(struct events *ev, struct event_sub *sub);

#endif
