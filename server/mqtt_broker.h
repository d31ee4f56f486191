/* orchardd's own mosquitto (--mqtt-listen, ORCHARD_MQTT_LISTEN): a private
 * broker with the Orchard plugin, started, restarted when it exits, and
 * killed with orchardd however orchardd ends (kill -9 included:
 * PR_SET_PDEATHSIG). See docs/mqtt.md. */
#ifndef ORCHARD_MQTT_BROKER_H
#define ORCHARD_MQTT_BROKER_H
#include <stddef.h>

struct server;
struct mqtt_broker;

/* Writes DATA_DIR/mqtt/mosquitto.conf (devices on --mqtt-listen over TLS
 * with cert/key, the backend on a free loopback port) and starts the
 * broker; backend gets "127.0.0.1:port" for --mqtt-broker. NULL when not
 * configured (*failed = 0) or on failure (*failed = 1, logged). */
struct mqtt_broker *mqtt_broker_start(struct server *srv, const char *cert, const char *key,
				      char *backend, size_t cap, int *failed);
void mqtt_broker_stop(struct mqtt_broker *b);

#endif
