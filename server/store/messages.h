/* Device-to-cloud messages (telemetry) in PostgreSQL: typed rows and the
 * queries, one per file (server/store/pg_*_device_message*.c). */
#ifndef ORCHARD_STORE_MESSAGES_H
#define ORCHARD_STORE_MESSAGES_H
#include <stddef.h>

#include "server/store/store.h"

#define MESSAGES_KEEP 1000	       /* per device, the newest */
#define MESSAGES_KEEP_DAYS 7	       /* and none older */
#define MESSAGES_BODY_MAX (256 * 1024) /* IoT Hub's largest device-to-cloud message */

struct store_message_new {
	const char *device_id;
	const char *system_properties; /* JSON object text */
	const char *properties;	       /* JSON object text */
	const void *body;
	size_t len;
};

/* Stores m and trims its device's messages to the retention, announcing
 * "deviceId id" on EVENTS_DEVICE_MESSAGE; *id is the new message's. */
enum store_qs store_insert_device_message(struct store_conn *c, const struct store_message_new *m,
					  long long *id);

struct store_message {
	long long id;
	char *device_id;
	long long received_at, received_us; /* epoch seconds, microseconds */
	char *system_properties;	    /* JSON text */
	char *properties;		    /* JSON text */
	unsigned char *body;
	size_t len;
};

/* A page of messages: items[0..n), owned (store_messages_free()). */
struct store_messages {
	struct store_message *items;
	int n;
};
void store_messages_free(struct store_messages *p);

/* device_id's messages (NULL: every device's) with an id above after,
 * received at or after since (epoch seconds), oldest first, at most limit. */
enum store_qs store_select_device_messages(struct store_conn *c, const char *device_id,
					   long long after, long long since, int limit,
					   struct store_messages *out);

/* The newest message's id, 0 when there is none. */
enum store_qs store_select_newest_message(struct store_conn *c, long long *id);

#endif
