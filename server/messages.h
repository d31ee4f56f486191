/* Device-to-cloud messages (IoT Hub telemetry): what a device publishes on
 * devices/{deviceId}/messages/events/{property bag} over MQTT is stored in
 * PostgreSQL with a bounded retention (server/store/messages.h) and read
 * by operators with GET /devices/{deviceId}/messages. Cloud-to-device
 * messages borrow the bag's encoding and the JSON forms. */
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

/* A cloud-to-device message's property bag for its topic, IoT Hub's
 * "%24.mid=...&%24.to=...&key=value" from its system properties (JSON
 * text, by name), its application properties (JSON text) and its expiry;
 * malloc'd, NULL when over MESSAGES_BAG_MAX or out of memory. */
#define MESSAGES_BAG_MAX 8000
char *messages_bag(const char *device, const char *sys, const char *props, long long expires_at);

/* {"body": text} when the bytes are UTF-8 without NUL, else
 * {"bodyBase64": ...} (new reference; NULL out of memory). */
json_t *messages_body_json(const unsigned char *b, size_t len);

/* epoch seconds and microseconds as "2026-12-01T15:20:33.123456Z". */
#define MESSAGES_TIME_LEN 48
void messages_time(long long epoch, long long us, char out[MESSAGES_TIME_LEN]);

/* One stored message as the operator API shows it (new reference). */
json_t *messages_json(const struct store_message *e);

#endif
