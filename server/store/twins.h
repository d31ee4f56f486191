/* Queries on device twins, as typed rows. Each takes a handle, so a
 * read-modify-write shares one transaction; the document is the caller's. */
#ifndef ORCHARD_STORE_TWINS_H
#define ORCHARD_STORE_TWINS_H
#include "server/store/store.h"

/* One twin row. The three JSON columns are text as PostgreSQL renders
 * them. Rows filled by a query own their strings: store_twin_free(). */
struct store_twin {
	char *device_id;
	char *etag;
	long long version;
	char *status;
	char *tags, *desired, *reported; /* JSON text */
	long long desired_version;	 /* desired.$version */
	long long updated_at;		 /* seconds since the epoch */
};
void store_twin_free(struct store_twin *t);

/* Reads the twin of device_id into *out (zeroed first). */
enum store_qs store_select_twin(struct store_conn *c, const char *device_id,
				struct store_twin *out);

/* Inside a transaction: reads the twin FOR UPDATE, so concurrent writers
 * of one twin take turns. STORE_NONE when there is none. */
enum store_qs store_lock_twin(struct store_conn *c, const char *device_id, struct store_twin *out);

/* Creates t unless a twin of t->device_id exists (then STORE_NONE, waiting
 * for a concurrent creator to commit first) and announces it on EVENTS_TWIN
 * at commit; the caller keeps t. */
enum store_qs store_insert_twin(struct store_conn *c, const struct store_twin *t);

/* Writes t's etag, version, tags, desired and reported over the twin of
 * t->device_id and announces "deviceId desiredVersion" on EVENTS_TWIN at
 * commit. */
enum store_qs store_update_twin(struct store_conn *c, const struct store_twin *t);

#endif
