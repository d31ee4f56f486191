/* Cloud-to-device messages in PostgreSQL: each device's queue (at most
 * C2D_QUEUE_MAX waiting), its delivery and the rows kept after it. */
#ifndef ORCHARD_STORE_C2D_H
#define ORCHARD_STORE_C2D_H
#include <stddef.h>

#include "server/store/store.h"

#define C2D_QUEUE_MAX 50	 /* waiting per device: IoT Hub's */
#define C2D_BODY_MAX (64 * 1024) /* IoT Hub's largest cloud-to-device message */
#define C2D_TTL_DEFAULT 3600	 /* seconds: IoT Hub's default */
#define C2D_TTL_MAX (48 * 3600)	 /* IoT Hub's largest */

struct store_c2d_new {
	const char *device_id;
	int ttl;		       /* seconds */
	const char *system_properties; /* JSON object text */
	const char *properties;	       /* JSON object text */
	const void *body;
	size_t len;
};

enum c2d_status { C2D_QUEUED, C2D_DELIVERED, C2D_EXPIRED };

struct store_c2d {
	long long id;
	long long enqueued_at, enqueued_us, expires_at; /* epoch seconds, microseconds */
	long long delivered_at;				/* epoch seconds; 0: not delivered */
	enum c2d_status status;
	char *system_properties; /* JSON text */
	char *properties;	 /* JSON text */
	unsigned char *body;
	size_t len;
};

/* Rows owned by the list (store_c2d_list_free()). */
struct store_c2d_list {
	struct store_c2d *items;
	int n;
};
void store_c2d_list_free(struct store_c2d_list *l);

/* Results of store_insert_c2d. */
enum c2d_insert { C2D_INSERTED, C2D_NO_DEVICE, C2D_FULL };

/* Queues m behind the device's others (serialized per device, so the
 * limit holds; run in store_run_txn), trims the device's rows older than
 * a day past delivery or expiry and announces the device on EVENTS_C2D.
 * *out says which; when inserted, *id and *expires_at (epoch seconds) are
 * the new message's. */
enum store_qs store_insert_c2d(struct store_conn *c, const struct store_c2d_new *m,
			       enum c2d_insert *out, long long *id, long long *expires_at);

/* The device's rows (queued, delivered, expired) after id after, oldest
 * first, at most limit. */
enum store_qs store_select_c2d(struct store_conn *c, const char *device_id, long long after,
			       int limit, struct store_c2d_list *out);

/* Marks the device's queued, unexpired messages delivered (skipping rows
 * another orchardd is taking) and returns them, oldest first, to be
 * handed to its connection. */
enum store_qs store_take_c2d(struct store_conn *c, const char *device_id,
			     struct store_c2d_list *out);

/* Queues message id of device_id again (its connection was gone). */
enum store_qs store_requeue_c2d(struct store_conn *c, const char *device_id, long long id);

/* Deletes the device's queued messages: *purged of them; STORE_NONE when
 * the device is unknown. */
enum store_qs store_purge_c2d(struct store_conn *c, const char *device_id, long long *purged);

#endif
