/* The hub's listener thread and its subscriber table: a hash of buckets by
 * (channel, key), so a notification for one device wakes that device's
 * waiters without walking everyone else's. */
#include "server/store/events.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/log.h"
#include "server/store/store_pg.h"

#define NBUCKETS 4096
#define MAX_CHANNELS 16

struct events {
	char *url;
	const char *channels[MAX_CHANNELS + 1];
	pthread_t thread;
	int stop_pipe[2];
	pthread_mutex_t mu;
	struct event_sub *bucket[NBUCKETS];
	/* The notifier (events_notify): queued "channel\n" and "payload\n"
	 * lines, sent in one statement by its own thread and connection. */
	pthread_t nthread;
	pthread_mutex_t nmu;
	pthread_cond_t ncond;
	bool nstop, nstarted;
	struct nq {
		char *buf;
		size_t len, cap;
	} qchan, qpay;
	unsigned long ndropped;
};

/* FNV-1a over channel and key. */
static size_t bucket_of(const char *channel, const char *key, size_t keylen)
{
	uint32_t h = hash_fnv1a(hash_fnv1a_str(channel), "\xff", 1);

	return hash_fnv1a(h, key, keylen) % NBUCKETS;
}

static void deliver_bucket(struct events *ev, const char *channel, const char *key, size_t keylen,
			   const char *payload)
{
	struct event_sub *s = ev->bucket[bucket_of(channel, key, keylen)], *next;

	for (; s != NULL; s = next) {
		next = s->next; /* a callback may not unsubscribe, but be safe */
		if (strcmp(s->channel, channel) == 0 && strlen(s->key) == keylen &&
		    memcmp(s->key, key, keylen) == 0)
			s->cb(s->cls, payload);
	}
}

static void deliver(struct events *ev, const char *channel, const char *payload)
{
	size_t keylen = strcspn(payload, " ");

	pthread_mutex_lock(&ev->mu);
	deliver_bucket(ev, channel, payload, keylen, payload);
	if (keylen > 0)
		deliver_bucket(ev, channel, "", 0, payload);
	pthread_mutex_unlock(&ev->mu);
}

void events_post(struct events *ev, const char *channel, const char *payload)
{
	deliver(ev, channel, payload);
}

/* After a reconnect anything may have been missed: everyone looks again. */
static void deliver_gap(struct events *ev)
{
	pthread_mutex_lock(&ev->mu);
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct event_sub *s = ev->bucket[i]; s != NULL; s = s->next)
			s->cb(s->cls, NULL);
	pthread_mutex_unlock(&ev->mu);
}

static PGconn *listener_connect(struct events *ev)
{
	int64_t deadline = store_now_ms() + STORE_DEADLINE_MS;
	PGconn *pg = store_connect_until(ev->url, deadline, STORE_DEADLINE_MS);
	int timed_out;

	for (int i = 0; pg != NULL && ev->channels[i] != NULL; i++) {
		char sql[96];
		snprintf(sql, sizeof sql, "LISTEN %s", ev->channels[i]);
		PGresult *res = store_pg_exec(pg, sql, NULL, 0, NULL, deadline, &timed_out);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			PQfinish(pg);
			pg = NULL;
		}
		PQclear(res);
	}
	return pg;
}

static void *events_main(void *arg)
{
	struct events *ev = arg;
	PGconn *pg = NULL;

	for (;;) {
		struct pollfd fds[2] = {{ev->stop_pipe[0], POLLIN, 0}, {-1, POLLIN, 0}};
		if (pg == NULL && (pg = listener_connect(ev)) != NULL)
			deliver_gap(ev);
		fds[1].fd = pg ? PQsocket(pg) : -1;
		int n = poll(fds, 2, pg ? -1 : 1000);
		if (n > 0 && (fds[0].revents & POLLIN))
			break;
		if (pg == NULL || n <= 0)
			continue;
		if (PQconsumeInput(pg) == 0) {
			log_kv(LOG_WARN, "event listener lost its connection; reconnecting", NULL);
			PQfinish(pg);
			pg = NULL;
			continue;
		}
		for (PGnotify *nt; (nt = PQnotifies(pg)) != NULL; PQfreemem(nt))
			deliver(ev, nt->relname, nt->extra);
	}
	PQfinish(pg);
	return NULL;
}

/* ---- the notifier: NOTIFY after commit, batched (docs/twins.md) ----------
 * A NOTIFY inside a writing transaction makes its commit take PostgreSQL's
 * global notify lock, so every such commit waits for the one before it.
 * Writers on the hot path (the optimistic desired PATCH) commit without
 * one and hand "channel payload" to events_notify; this thread sends what
 * has queued meanwhile as one statement, one transaction and one commit on
 * its own connection. A notification lost to a crash between the write's
 * commit and this send costs a waiting device at most its long-poll
 * timeout: it asks again with since=VERSION and gets the change. */
#define NQ_MAX_BYTES (4u << 20) /* queued text; beyond it a wake is dropped */

static int nq_add(struct nq *q, const char *s)
{
	size_t n = strlen(s);

	if (q->len + n + 2 > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		while (cap < q->len + n + 2)
			cap *= 2;
		char *b = realloc(q->buf, cap);
		if (b == NULL)
			return -1;
		q->buf = b;
		q->cap = cap;
	}
	if (q->len > 0)
		q->buf[q->len++] = '\n';
	memcpy(q->buf + q->len, s, n + 1);
	q->len += n;
	return 0;
}

void events_notify(struct events *ev, const char *channel, const char *payload)
{
	if (ev == NULL || strchr(channel, '\n') != NULL || strchr(payload, '\n') != NULL)
		return;
	pthread_mutex_lock(&ev->nmu);
	size_t qlen = ev->qchan.len, plen = ev->qpay.len;
	if (qlen + plen > NQ_MAX_BYTES || nq_add(&ev->qchan, channel) != 0 ||
	    nq_add(&ev->qpay, payload) != 0) {
		ev->qchan.len = qlen; /* both lists stay in step */
		ev->qpay.len = plen;
		if (ev->qchan.buf)
			ev->qchan.buf[qlen] = '\0';
		if (ev->qpay.buf)
			ev->qpay.buf[plen] = '\0';
		ev->ndropped++;
	} else {
		pthread_cond_signal(&ev->ncond);
	}
	pthread_mutex_unlock(&ev->nmu);
}

/* Sends one batch; 0 when PostgreSQL took it. */
static int notifier_send(struct events *ev, PGconn **pg, const char *chans, const char *pays)
{
	static const char sql[] =
		"SELECT count(pg_notify(c, p)) FROM unnest(string_to_array($1, E'\\n'),"
		" string_to_array($2, E'\\n')) AS x(c, p)";
	const char *params[] = {chans, pays};

	for (int attempt = 0; attempt < 2; attempt++) {
		int64_t deadline = store_now_ms() + STORE_DEADLINE_MS;
		int timed_out = 0;

		if (*pg == NULL && (*pg = store_connect_until(ev->url, deadline, 0)) == NULL)
			continue;
		PGresult *res = store_pg_exec(*pg, sql, NULL, 2, params, deadline, &timed_out);
		int ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
		if (ok)
			return 0;
		PQfinish(*pg); /* broken or timed out: a fresh connection next */
		*pg = NULL;
	}
	return -1;
}

static void *notifier_main(void *arg)
{
	struct events *ev = arg;
	struct nq chans = {0}, pays = {0};
	PGconn *pg = NULL;

	pthread_mutex_lock(&ev->nmu);
	for (;;) {
		while (!ev->nstop && ev->qchan.len == 0)
			pthread_cond_wait(&ev->ncond, &ev->nmu);
		if (ev->qchan.len == 0)
			break;	     /* stopping, nothing left */
		struct nq t = chans; /* take the queue, leave an empty buffer */
		chans = ev->qchan;
		ev->qchan = t;
		ev->qchan.len = 0;
		t = pays;
		pays = ev->qpay;
		ev->qpay = t;
		ev->qpay.len = 0;
		unsigned long dropped = ev->ndropped;
		ev->ndropped = 0;
		pthread_mutex_unlock(&ev->nmu);
		if (dropped > 0) {
			char n[24];
			snprintf(n, sizeof n, "%lu", dropped);
			log_kv(LOG_WARN, "notifier queue full: wakes dropped", "count", n, NULL);
		}
		if (notifier_send(ev, &pg, chans.buf, pays.buf) != 0)
			log_kv(LOG_WARN, "notifier could not send; waiters see it on their timeout",
			       NULL);
		pthread_mutex_lock(&ev->nmu);
	}
	pthread_mutex_unlock(&ev->nmu);
	PQfinish(pg);
	free(chans.buf);
	free(pays.buf);
	return NULL;
}

static void events_release(struct events *ev)
{
	if (ev->stop_pipe[0] >= 0) {
		close(ev->stop_pipe[0]);
		close(ev->stop_pipe[1]);
	}
	pthread_mutex_destroy(&ev->mu);
	pthread_mutex_destroy(&ev->nmu);
	pthread_cond_destroy(&ev->ncond);
	free(ev->qchan.buf);
	free(ev->qpay.buf);
	free(ev->url);
	free(ev);
}

struct events *events_start(const char *url, const char *const *channels)
{
	struct events *ev = calloc(1, sizeof *ev);

	if (ev == NULL)
		return NULL;
	ev->stop_pipe[0] = ev->stop_pipe[1] = -1;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_mutex_init(&ev->nmu, NULL);
	pthread_cond_init(&ev->ncond, NULL);
	for (int i = 0; channels[i] != NULL && i < MAX_CHANNELS; i++)
		ev->channels[i] = channels[i];
	ev->url = strdup(url);
	if (ev->url == NULL || pipe(ev->stop_pipe) != 0 ||
	    pthread_create(&ev->thread, NULL, events_main, ev) != 0) {
		events_release(ev);
		return NULL;
	}
	if (pthread_create(&ev->nthread, NULL, notifier_main, ev) != 0) {
		events_stop(ev);
		return NULL;
	}
	ev->nstarted = true;
	return ev;
}

void events_stop(struct events *ev)
{
	if (ev == NULL)
		return;
	if (ev->nstarted) { /* sends what is queued, then ends */
		pthread_mutex_lock(&ev->nmu);
		ev->nstop = true;
		pthread_cond_signal(&ev->ncond);
		pthread_mutex_unlock(&ev->nmu);
		pthread_join(ev->nthread, NULL);
	}
	if (write(ev->stop_pipe[1], "x", 1) == 1)
		pthread_join(ev->thread, NULL);
	events_release(ev);
}

int events_subscribe(struct events *ev, struct event_sub *sub, const char *channel, const char *key,
		     void (*cb)(void *cls, const char *payload), void *cls)
{
	size_t keylen = strlen(key);

	if (keylen >= sizeof sub->key)
		return -1;
	sub->channel = channel;
	memcpy(sub->key, key, keylen + 1);
	sub->cb = cb;
	sub->cls = cls;
	pthread_mutex_lock(&ev->mu);
	struct event_sub **head = &ev->bucket[bucket_of(channel, key, keylen)];
	sub->next = *head;
	if (*head != NULL)
		(*head)->pprev = &sub->next;
	*head = sub;
	sub->pprev = head;
	pthread_mutex_unlock(&ev->mu);
	return 0;
}

void events_unsubscribe(struct events *ev, struct event_sub *sub)
{
	pthread_mutex_lock(&ev->mu);
	if (sub->pprev != NULL) {
		*sub->pprev = sub->next;
		if (sub->next != NULL)
			sub->next->pprev = sub->pprev;
		sub->pprev = NULL;
		sub->next = NULL;
	}
	pthread_mutex_unlock(&ev->mu);
}
