/* The twin batch (server/twin_batch.h). One writer thread takes what is
 * queued (at most TWIN_BATCH_MAX jobs), sorts it by device ID (then queue
 * order), and on one pooled connection:
 *  1. reads every twin named, once, in one statement (= ANY), except a
 *     twin whose only job is a change and whose row this writer wrote
 *     last (its cache): the write's etag check decides whether that row is
 *     still current, and a change merged on a stale row, or refused on it
 *     (If-Match, a limit), is merged again on a fresh read next batch;
 *  2. merges each change (the handler's callback: twin_doc.c's rules and
 *     limits) into the twin as read; a twin changes at most once a batch,
 *     a second change of it waits for the next batch, so changes of one
 *     twin apply in queue order;
 *  3. writes every merged change in one statement and one commit, each only
 *     if its etag is still the one read, with history and audit rows;
 *  4. announces what committed, and resumes every request that is done.
 * A change whose etag moved (another orchardd, or the locking transaction
 * for tags) is read and merged again in the next batch; after
 * TWIN_BATCH_TRIES lost races, or when the twin does not exist, its
 * handler's locking transaction runs here. While the writer works the
 * next batch queues: batches grow with the load, by themselves. */
#include "server/twin_batch.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/log.h"
#include "server/request.h"
#include "server/server.h"

#define TWIN_BATCH_MAX 512
/* The rows this writer wrote last, so that the next change of a twin
 * needs no read: direct-mapped by device ID, at most CACHE_BYTES of text. */
#define CACHE_SLOTS 16384
#define CACHE_BYTES (16u << 20)

struct twin_batch {
	struct server *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct twin_job *head, **tail;
	bool stop, started, joined;
	unsigned long long seq;
	long queued;		  /* jobs waiting for a batch, under mu */
	struct store_twin *cache; /* CACHE_SLOTS; the writer's only */
	size_t cache_bytes;
	unsigned long long batches, reads, changes, commits; /* under mu */
};

/* What one batch works on, sorted. */
struct batch {
	struct twin_job **jobs;
	size_t n;
	const char **ids; /* distinct */
	size_t nids;
	struct store_twin *rows; /* read, sorted by device ID */
	size_t nrows;
	enum twin_step *step;
	bool *later;		    /* a change that waits for its twin's earlier one */
	bool read_ok;		    /* the read statement ran: rows are the twins now */
	bool *cached;		    /* a change merged against the writer's cache, not a read */
	struct store_twin_write *w; /* per job (changes only) */
	size_t nwrites;
	size_t *widx; /* writes in device ID order: their job index */
	struct twin_batch *b;
};

static int job_cmp(const void *x, const void *y)
{
	const struct twin_job *a = *(struct twin_job *const *)x, *b = *(struct twin_job *const *)y;
	int c = strcmp(a->id, b->id);

	return c != 0 ? c : a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int row_cmp(const void *x, const void *y)
{
	return strcmp(((const struct store_twin *)x)->device_id,
		      ((const struct store_twin *)y)->device_id);
}

static const struct store_twin *row_find(struct batch *bt, const char *id)
{
	struct store_twin key = {.device_id = (char *)id};

	return bt->nrows ? bsearch(&key, bt->rows, bt->nrows, sizeof *bt->rows, row_cmp) : NULL;
}

static int twin_dup(struct store_twin *d, const struct store_twin *s)
{
	*d = *s;
	d->device_id = strdup(s->device_id);
	d->etag = strdup(s->etag);
	d->status = strdup(s->status);
	d->tags = strdup(s->tags);
	d->desired = strdup(s->desired);
	d->reported = strdup(s->reported);
	if (d->device_id && d->etag && d->status && d->tags && d->desired && d->reported)
		return 0;
	store_twin_free(d);
	return -1;
}

static size_t row_bytes(const struct store_twin *t)
{
	return strlen(t->device_id) + strlen(t->etag) + strlen(t->status) + strlen(t->tags) +
	       strlen(t->desired) + strlen(t->reported);
}

static struct store_twin *cache_slot(struct twin_batch *b, const char *id)
{
	return &b->cache[hash_fnv1a_str(id) & (CACHE_SLOTS - 1)];
}

/* The row of id as this writer last wrote it, or NULL. */
static const struct store_twin *cache_get(struct twin_batch *b, const char *id)
{
	struct store_twin *t = cache_slot(b, id);

	return t->device_id != NULL && strcmp(t->device_id, id) == 0 ? t : NULL;
}

static void cache_drop(struct twin_batch *b, const char *id)
{
	struct store_twin *t = cache_slot(b, id);

	if (t->device_id != NULL && strcmp(t->device_id, id) == 0) {
		b->cache_bytes -= row_bytes(t);
		store_twin_free(t);
	}
}

static void cache_put(struct twin_batch *b, const struct store_twin *row)
{
	struct store_twin *t = cache_slot(b, row->device_id);
	size_t n = row_bytes(row);

	if (t->device_id != NULL) {
		b->cache_bytes -= row_bytes(t);
		store_twin_free(t);
	}
	if (b->cache_bytes + n <= CACHE_BYTES && twin_dup(t, row) == 0)
		b->cache_bytes += n;
}

/* On the batch's connection: read, merge, write. */
static enum store_qs batch_cb(struct store_conn *c, void *cls)
{
	struct batch *bt = cls;
	struct store_twin_write *sorted;
	enum store_qs qs;

	for (size_t i = 0; i < bt->nrows; i++)
		store_twin_free(&bt->rows[i]);
	bt->nrows = 0;
	qs = bt->nids > 0 ? store_select_twins(c, bt->nids, bt->ids, bt->rows, &bt->nrows)
			  : STORE_NONE;
	if (qs < 0)
		return qs;
	bt->read_ok = true;
	qsort(bt->rows, bt->nrows, sizeof *bt->rows, row_cmp);
	bt->nwrites = 0;
	for (size_t i = 0; i < bt->n; i++) {
		struct twin_job *j = bt->jobs[i];

		if (j->ops == NULL || bt->later[i])
			continue; /* a read, or a change that waits for the next batch */
		memset(&bt->w[i], 0, sizeof bt->w[i]);
		bt->step[i] = j->ops->merge(
			c, j->cls, bt->cached[i] ? cache_get(bt->b, j->id) : row_find(bt, j->id),
			&bt->w[i]);
		if (bt->step[i] == TWIN_STEP_WRITE)
			bt->widx[bt->nwrites++] = i;
	}
	if (bt->nwrites == 0)
		return STORE_NONE;
	if ((sorted = malloc(bt->nwrites * sizeof *sorted)) == NULL)
		return STORE_HARD;
	for (size_t k = 0; k < bt->nwrites; k++)
		sorted[k] = bt->w[bt->widx[k]];
	qs = store_update_twins_if(c, sorted, bt->nwrites);
	for (size_t k = 0; k < bt->nwrites; k++)
		bt->w[bt->widx[k]] = sorted[k];
	free(sorted);
	return qs;
}

static int seq_cmp(const void *x, const void *y)
{
	const struct twin_job *a = *(struct twin_job *const *)x, *b = *(struct twin_job *const *)y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Settles job i of a batch that ran with status qs: done, or left to go
 * back to the queue. Returns 1 when its change was written. */
static int batch_settle(struct batch *bt, size_t i, enum store_qs qs)
{
	struct twin_job *j = bt->jobs[i];
	const struct store_twin *r;

	if (j->ops == NULL) { /* a read: answered once the read statement ran */
		if (!bt->read_ok && qs == STORE_SOFT && ++j->tries < TWIN_BATCH_TRIES)
			return 0;
		j->qs = !bt->read_ok ? (qs < 0 ? qs : STORE_HARD) : STORE_NONE;
		if (bt->read_ok && (r = row_find(bt, j->id)) != NULL)
			j->qs = twin_dup(&j->row, r) == 0 ? STORE_ONE : STORE_HARD;
		j->done = true;
		return 0;
	}
	if (bt->later[i] && (qs >= 0 || qs == STORE_SOFT))
		return 0; /* its twin's earlier change went first */
	if (bt->cached[i] && qs >= 0 && (bt->step[i] != TWIN_STEP_WRITE || !bt->w[i].written)) {
		/* Merged against a row another writer has since changed, or
		 * refused on it: only a fresh read may decide. Not a lost race. */
		cache_drop(bt->b, j->id);
		j->fresh = true;
		return 0;
	}
	if (qs < 0 && qs != STORE_SOFT) {
		j->qs = qs;
	} else if (qs == STORE_SOFT || (bt->step[i] == TWIN_STEP_WRITE && !bt->w[i].written)) {
		if (++j->tries < TWIN_BATCH_TRIES)
			return 0; /* read and merged again next batch */
		cache_drop(bt->b, j->id);
		j->qs = j->ops->fallback(j->cls);
	} else if (bt->step[i] == TWIN_STEP_WRITE) {
		cache_put(bt->b, bt->w[i].t);
		j->ops->committed(j->cls, bt->w[i].audit_id);
		j->qs = STORE_ONE;
		j->done = true;
		return 1;
	} else if (bt->step[i] == TWIN_STEP_FALLBACK) {
		cache_drop(bt->b, j->id);
		j->qs = j->ops->fallback(j->cls);
	} else if (bt->step[i] == TWIN_STEP_ERROR) {
		j->qs = STORE_HARD;
	} else {
		j->qs = STORE_NONE; /* refused: the handler knows why */
	}
	j->done = true;
	return 0;
}

/* Runs one batch over list (n jobs, n > 0): the jobs that are done are
 * resumed; the others are returned through *again, in queue order. */
static void batch_run(struct twin_batch *b, struct twin_job *list, size_t n,
		      struct twin_job **again)
{
	struct batch bt = {.b = b};
	enum store_qs qs = STORE_HARD;
	size_t nchanges = 0, written = 0, nagain = 0, nreads = 0;

	*again = NULL;
	bt.jobs = malloc(n * sizeof *bt.jobs);
	bt.ids = malloc(n * sizeof *bt.ids);
	bt.rows = calloc(n, sizeof *bt.rows);
	bt.step = calloc(n, sizeof *bt.step);
	bt.later = calloc(n, sizeof *bt.later);
	bt.cached = calloc(n, sizeof *bt.cached);
	bt.w = calloc(n, sizeof *bt.w);
	bt.widx = malloc(n * sizeof *bt.widx);
	if (!(bt.jobs && bt.ids && bt.rows && bt.step && bt.later && bt.cached && bt.w &&
	      bt.widx)) {
		for (struct twin_job *j = list; j != NULL; j = j->next) {
			j->qs = STORE_HARD;
			j->done = true;
		}
		for (struct twin_job *j = list, *next; j != NULL; j = next) {
			next = j->next;
			request_resume(j->req);
		}
		goto out;
	}
	for (struct twin_job *j = list; j != NULL; j = j->next)
		bt.jobs[bt.n++] = j;
	qsort(bt.jobs, bt.n, sizeof *bt.jobs, job_cmp);
	/* A twin's first change takes part, later ones wait. An ID is read
	 * unless its only job is a change this writer can merge against the
	 * row it wrote last (cached: the write's etag check still decides). */
	for (size_t g = 0, e; g < bt.n; g = e) {
		bool read = false;

		nchanges = 0;
		for (e = g; e < bt.n && strcmp(bt.jobs[g]->id, bt.jobs[e]->id) == 0; e++) {
			if (bt.jobs[e]->ops == NULL)
				read = true;
			else if (nchanges++ > 0)
				bt.later[e] = true;
			else if (!bt.jobs[e]->fresh && cache_get(b, bt.jobs[e]->id) != NULL)
				bt.cached[e] = true;
			else
				read = true;
		}
		if (read) {
			bt.ids[bt.nids++] = bt.jobs[g]->id;
			for (size_t i = g; i < e; i++)
				bt.cached[i] = false;
		}
	}
	qs = store_run(b->srv->store, batch_cb, &bt);
	for (size_t i = 0; i < bt.n; i++) {
		written += (size_t)batch_settle(&bt, i, qs);
		nreads += bt.jobs[i]->ops == NULL && bt.jobs[i]->done;
		if (!bt.jobs[i]->done)
			bt.jobs[nagain++] = bt.jobs[i]; /* i >= nagain: safe in place */
		else
			request_resume(bt.jobs[i]->req);
	}
	qsort(bt.jobs, nagain, sizeof *bt.jobs, seq_cmp);
	for (size_t i = nagain; i-- > 0;) {
		bt.jobs[i]->next = *again;
		*again = bt.jobs[i];
	}
	pthread_mutex_lock(&b->mu);
	b->batches++;
	b->reads += nreads;
	b->changes += written;
	b->commits += written > 0;
	pthread_mutex_unlock(&b->mu);
out:
	for (size_t i = 0; i < bt.nrows; i++)
		store_twin_free(&bt.rows[i]);
	free(bt.jobs);
	free(bt.ids);
	free(bt.rows);
	free(bt.step);
	free(bt.later);
	free(bt.cached);
	free(bt.w);
	free(bt.widx);
}

static void *batch_main(void *arg)
{
	struct twin_batch *b = arg;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		struct twin_job *list, *again, **t, *j;
		size_t n = 0;

		while (b->head == NULL && !b->stop)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->head == NULL)
			break; /* stopping, and nothing left */
		/* Take at most TWIN_BATCH_MAX, in queue order. */
		list = b->head;
		for (t = &b->head; *t != NULL && n < TWIN_BATCH_MAX; t = &(*t)->next)
			n++;
		b->head = *t;
		*t = NULL;
		b->queued -= (long)n;
		if (b->head == NULL)
			b->tail = &b->head;
		pthread_mutex_unlock(&b->mu);
		/* A resumed request may end (and free its job) at once: the list
		 * is not walked after batch_run. */
		batch_run(b, list, n, &again);
		pthread_mutex_lock(&b->mu);
		if (again != NULL) { /* ahead of what queued meanwhile */
			for (j = again, b->queued++; j->next != NULL; j = j->next)
				b->queued++;
			j->next = b->head;
			if (b->head == NULL)
				b->tail = &j->next;
			b->head = again;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

struct twin_batch *twin_batch_start(struct server *srv)
{
	struct twin_batch *b = calloc(1, sizeof *b);

	if (b == NULL)
		return NULL;
	b->srv = srv;
	b->tail = &b->head;
	if ((b->cache = calloc(CACHE_SLOTS, sizeof *b->cache)) == NULL) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (pthread_create(&b->thread, NULL, batch_main, b) != 0) {
		twin_batch_free(b);
		return NULL;
	}
	b->started = true;
	return b;
}

void twin_batch_stop(struct twin_batch *b)
{
	if (b == NULL || b->joined)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	if (b->started)
		pthread_join(b->thread, NULL);
	b->joined = true;
	{
		char nb[24], nc[24], nm[24];

		snprintf(nb, sizeof nb, "%llu", b->batches);
		snprintf(nc, sizeof nc, "%llu", b->changes);
		snprintf(nm, sizeof nm, "%llu", b->commits);
		log_kv(LOG_INFO, "twin batch stopped", "batches", nb, "changes", nc, "commits", nm,
		       NULL);
	}
}

void twin_batch_free(struct twin_batch *b)
{
	if (b == NULL)
		return;
	twin_batch_stop(b);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		store_twin_free(&b->cache[i]);
	free(b->cache);
	free(b);
}

bool twin_batch_submit(struct twin_batch *b, struct twin_job *j)
{
	bool ok = false;

	if (b == NULL)
		return false;
	j->done = false;
	j->next = NULL;
	pthread_mutex_lock(&b->mu);
	if (!b->stop) {
		j->seq = ++b->seq;
		request_suspend(j->req); /* before the writer can see it */
		*b->tail = j;
		b->tail = &j->next;
		b->queued++;
		pthread_cond_signal(&b->cv);
		ok = true;
	}
	pthread_mutex_unlock(&b->mu);
	return ok;
}

long twin_batch_queued(struct twin_batch *b)
{
	long n;

	if (b == NULL)
		return 0;
	pthread_mutex_lock(&b->mu);
	n = b->queued;
	pthread_mutex_unlock(&b->mu);
	return n;
}

void twin_job_clear(struct twin_job *j)
{
	store_twin_free(&j->row);
}

void twin_batch_counts(struct twin_batch *b, unsigned long long *batches, unsigned long long *reads,
		       unsigned long long *changes, unsigned long long *commits)
{
	*batches = *reads = *changes = *commits = 0;
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	*batches = b->batches;
	*reads = b->reads;
	*changes = b->changes;
	*commits = b->commits;
	pthread_mutex_unlock(&b->mu);
}
