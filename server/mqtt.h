/* orchardd as the backend of an MQTT broker running the Orchard plugin
 * (server/mqtt/orchard_mqtt.c): IoT Hub's device twin topics, answered
 * with the same twin code as the HTTPS device API. See docs/mqtt.md. */
#ifndef ORCHARD_MQTT_H
#define ORCHARD_MQTT_H

struct server;
struct mqtt;

/* With --mqtt-broker set: opens the plugin's credential socket
 * (--mqtt-socket), connects to the broker as the backend (libmosquitto,
 * its own thread, reconnecting on its own) and follows twin changes on
 * EVENTS_TWIN to push desired patches. NULL when not configured (*failed
 * = 0) or on failure (*failed = 1, logged). */
struct mqtt *mqtt_start(struct server *srv, int *failed);
void mqtt_stop(struct mqtt *m);

#endif
