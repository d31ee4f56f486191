/* Device-to-cloud messages (IoT Hub telemetry): what a device publishes on
 * devices/{deviceId}/messages/events/{property bag} over MQTT is stored in
 * PostgreSQL with a bounded retention (server/store/messages.h) and read
 * by operators with GET /devices/{deviceId}/messages. */
#ifndef ORCHARD_MESSAGES_H
#define ORCHARD_MESSAGES_H
#include <jansson.h>
#include <stddef.h>

#include "server/store/messages.h"

struct store;

/* Stores device's message: bag is the topic after "messages/events/"
 * (url-encoded "k=v&..."; IoT Hub's "$.mid", "$.ct"... are system
 * properties). 0 stored; -1 refused (too large, a bad property bag: logged
 * as bad input); -2 the database failed. */
int messages_store(struct store *s, const char *device, const char *bag, const void *body,
		   size_t len);

/* One stored message as the operator API shows it (new reference). */
json_t *messages_json(const struct store_message *e);

#endif
