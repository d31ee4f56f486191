/* orchardd as the backend of an MQTT broker running the Orchard plugin
 * (server/mqtt/orchard_mqtt.c): IoT Hub's device twin topics, answered
 * with the same twin code as the HTTPS device API. See docs/mqtt.md. */
#ifndef ORCHARD_MQTT_H
#define ORCHARD_MQTT_H
#include <stdbool.h>
#include <stddef.h>

struct server;
struct mqtt;

/* With --mqtt-broker set: opens the plugin's credential socket
 * (--mqtt-socket), connects to the broker as the backend (libmosquitto,
 * its own thread, reconnecting on its own) and follows twin changes on
 * EVENTS_TWIN to push desired patches. NULL when not configured (*failed
 * = 0) or on failure (*failed = 1, logged). */
struct mqtt *mqtt_start(struct server *srv, int *failed);
void mqtt_stop(struct mqtt *m);
/* How many devices this orchardd pushes desired to (0 when m is NULL). */
size_t mqtt_follows(struct mqtt *m);

/* Direct methods (IoT Hub's $iothub/methods/...), for POST
 * /twins/{id}/methods. Which devices are connected to the broker: the
 * plugin tells every orchardd of each connect and disconnect. */
#define MQTT_RID_MAX 40
#define MQTT_METHOD_PAYLOAD_MAX (128 * 1024) /* IoT Hub's */

enum mqtt_call {
	MQTT_CALL_SENT,	       /* published; the answer comes as mqtt_method_take() */
	MQTT_CALL_OFFLINE,     /* the device is not connected to the broker */
	MQTT_CALL_UNAVAILABLE, /* orchardd is not connected to the broker, or out of memory */
};

/* Whether device is connected to the broker now. */
bool mqtt_device_online(struct mqtt *m, const char *device);

/* Publishes "$iothub/methods/POST/{name}/?$rid={rid}" with payload (JSON
 * text, len bytes) to that one device, and remembers rid (written to rid,
 * unique to this orchardd) until mqtt_method_forget(). The answer wakes
 * waiters on EVENTS_MQTT_METHOD with key rid (events_post). */
enum mqtt_call mqtt_method_call(struct mqtt *m, const char *device, const char *name,
				const char *payload, size_t len, char rid[MQTT_RID_MAX]);

/* 1 when rid's answer came: *status is the device's status (-1: the
 * device was gone when the request reached the broker) and *payload its
 * body (malloc'd, NUL-terminated, may be empty); 0 while none came. */
int mqtt_method_take(struct mqtt *m, const char *rid, int *status, char **payload);
void mqtt_method_forget(struct mqtt *m, const char *rid);

#endif
