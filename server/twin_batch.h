/* The twin batch: reads and desired changes of twins, queued by request
 * handlers that suspend their connection meanwhile (no thread waits), and
 * done by one writer thread a batch at a time: everything queued meanwhile
 * is read in one statement, each change merged in C by its handler's
 * callback, all changes written in one statement and one commit, and each
 * request resumed with its result. What a batch costs PostgreSQL (two
 * round trips, one commit) is shared by every request in it. */
#ifndef ORCHARD_TWIN_BATCH_H
#define ORCHARD_TWIN_BATCH_H
#include <stdbool.h>

#include "server/store/store.h"
#include "server/store/twins.h"

struct server;
struct request;
struct twin_batch;

/* What a change's merge decided. */
enum twin_step {
	TWIN_STEP_WRITE,    /* *w is filled: write it if the etag still holds */
	TWIN_STEP_DONE,	    /* answered without writing (refused: the handler knows why) */
	TWIN_STEP_FALLBACK, /* not for the batch (no twin): run fallback() */
	TWIN_STEP_ERROR,    /* the store failed (503) */
};

/* A change's callbacks, run on the writer thread. */
struct twin_change_ops {
	/* With the twin as read now (NULL: there is none), on the batch's
	 * connection outside a transaction. */
	enum twin_step (*merge)(struct store_conn *c, void *cls, const struct store_twin *read,
				struct store_twin_write *w);
	/* The merged change committed: announce it (audit_id: its audit row). */
	void (*committed)(void *cls, long long audit_id);
	/* The locking transaction instead (no twin, or a twin that lost its
	 * race TWIN_BATCH_TRIES times): returns its status. */
	enum store_qs (*fallback)(void *cls);
};

#define TWIN_BATCH_TRIES 4

/* One queued request. The handler keeps it in req->state until the
 * request ends; only the writer touches it between submit and resume. */
struct twin_job {
	struct twin_job *next;
	struct request *req;
	const char *id;			   /* the twin's device ID */
	const struct twin_change_ops *ops; /* NULL: a read */
	void *cls;			   /* ops' argument */
	unsigned long long seq;		   /* queue order */
	int tries;			   /* races lost so far */
	bool fresh;			   /* merge it against a fresh read, not the cache */
	bool done;
	enum store_qs qs;      /* the result: STORE_ONE/NONE, or an error */
	struct store_twin row; /* a read's twin (qs STORE_ONE) */
};

/* Starts the writer on its own pooled connection per batch. */
struct twin_batch *twin_batch_start(struct server *srv);
/* Refuses new jobs (twin_batch_submit() says false from now on), finishes
 * everything queued (each request gets its answer) and joins the writer;
 * b stays valid, so request threads may still call in. Again, or NULL: a
 * no-op. */
void twin_batch_stop(struct twin_batch *b);
/* Stops b if needed and frees it, once no request thread can reach it any
 * more (HTTP stopped). NULL is fine. */
void twin_batch_free(struct twin_batch *b);

/* Queues j and suspends its request (before the writer can see it): the
 * handler returns MHD_YES and runs again once j->done. Returns false when
 * stopping (nothing queued, the request not suspended: answer 503). */
bool twin_batch_submit(struct twin_batch *b, struct twin_job *j);

/* Frees a read job's row (not the job). */
void twin_job_clear(struct twin_job *j);

/* Jobs queued for the next batch, right now. */
long twin_batch_queued(struct twin_batch *b);

/* Batches run, reads answered, changes written and commits that wrote
 * them, so far: for /metrics and the bench (changes a commit). */
void twin_batch_counts(struct twin_batch *b, unsigned long long *batches, unsigned long long *reads,
		       unsigned long long *changes, unsigned long long *commits);

#endif
