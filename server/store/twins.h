/* Queries on device twins, as typed rows. Each takes a handle, so a
 * read-modify-write shares one transaction; the document is the caller's. */
#ifndef ORCHARD_STORE_TWINS_H
#define ORCHARD_STORE_TWINS_H
#include <stdbool.h>
#include <stddef.h>

#include "server/store/dps.h"
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

/* One accepted change of a twin, as its history keeps it. */
struct store_twin_change {
	char *device_id;
	long long version;   /* the twin's version after the change */
	char *sections;	     /* what changed, comma-separated: "tags,desired", "reported" */
	char *actor_kind;    /* "operator", "device" or "dps" */
	char *actor;	     /* the operator token's jti, the device ID, the registration ID */
	char *patch;	     /* the update as sent (JSON text) */
	long long at, at_us; /* when: epoch seconds and microseconds (filled by reads) */
};

/* Writes t's etag, version, tags, desired and reported over the twin of
 * t->device_id, records h in its history (when not NULL; h->version is
 * taken from t) and announces "deviceId desiredVersion" on EVENTS_TWIN at
 * commit, in one statement. */
enum store_qs store_update_twin(struct store_conn *c, const struct store_twin *t,
				const struct store_twin_change *h);

struct store_audit_new;

/* Reads the twins of n distinct device IDs in one statement into out (room
 * for n; *nout of them filled, in no particular order: IDs without a twin
 * are missing). Returns the row count or an error status. */
enum store_qs store_select_twins(struct store_conn *c, size_t n, const char *const *ids,
				 struct store_twin *out, size_t *nout);

/* One change of a batched write (store_update_twins_if). */
struct store_twin_write {
	const struct store_twin *t;	   /* the twin as to be written */
	const char *read_etag;		   /* written only if the etag is still this */
	const struct store_twin_change *h; /* its history row */
	const struct store_audit_new *a;   /* its audit row, or NULL */
	bool written;			   /* out: the etag held, the change is in */
	long long audit_id;		   /* out: the audit row's id, when written */
};

/* Outside a transaction: writes n changes of distinct twins (sorted by
 * device ID, so that two batches lock in one order; one change needs no
 * sorting), each its t's etag, version, tags and desired, its history row h
 * and its audit row a (when not NULL) only if the twin's etag is still its
 * read_etag, all in one statement and one commit. Each change's written
 * says whether its etag held (else nothing of it was written: read it
 * again), audit_id the audit row's id. Returns the count written, or
 * STORE_NONE. Nothing is notified: the caller announces each written change
 * after commit with events_notify() (EVENTS_TWIN "deviceId desiredVersion",
 * EVENTS_AUDIT audit_id). */
enum store_qs store_update_twins_if(struct store_conn *c, struct store_twin_write *w, size_t n);

/* Inside the transaction that changed the twin: records h (the caller
 * keeps it). */
enum store_qs store_insert_twin_history(struct store_conn *c, const struct store_twin_change *h);

/* A page of history: items[0..n), owned (store_twin_history_free()). */
struct store_twin_history {
	struct store_twin_change *items;
	int n;
};
void store_twin_history_free(struct store_twin_history *h);

/* The changes of device_id's twin after version `after`, oldest first, at
 * most limit. */
enum store_qs store_select_twin_history(struct store_conn *c, const char *device_id,
					long long after, int limit, struct store_twin_history *out);

/* What a device's IoT Hub credential is checked against: the enrollment
 * that registered it (keys included: never log it) and its registration. */
struct store_hub_device {
	struct store_dps_enrollment enrollment;
	char *registration_id;
	char *status;	  /* the registration's: "assigned", "disabled"... */
	char *device_key; /* TPM devices: the hub key (secret, base64), else NULL */
};
void store_hub_device_free(struct store_hub_device *d);

/* Reads the registration whose device ID is device_id and its enrollment
 * (STORE_NONE: no such registration, or its enrollment is gone). */
enum store_qs store_select_hub_device(struct store_conn *c, const char *device_id,
				      struct store_hub_device *out);

#endif
