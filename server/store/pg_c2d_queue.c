/* A device's cloud-to-device queue: queue, list, take for delivery, put
 * back, purge (server/store/c2d.h). Bodies travel as hex, as telemetry's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "server/store/c2d.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

/* The columns rows() reads, in its order (times as epoch seconds). */
#define C2D_COLUMNS                                                                                \
	"id, extract(epoch from enqueued_at)::bigint,"                                             \
	" extract(microseconds from enqueued_at)::bigint % 1000000,"                               \
	" extract(epoch from expires_at)::bigint,"                                                 \
	" coalesce(extract(epoch from delivered_at)::bigint, 0), expires_at <= now(),"             \
	" system_properties::text, properties::text, encode(body, 'hex')"

void store_c2d_list_free(struct store_c2d_list *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->n; i++) {
		free(l->items[i].system_properties);
		free(l->items[i].properties);
		free(l->items[i].body);
	}
	free(l->items);
	memset(l, 0, sizeof *l);
}

/* res's rows (C2D_COLUMNS) into out; STORE_HARD when out of memory. */
static enum store_qs rows(PGresult *res, enum store_qs qs, struct store_c2d_list *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs <= 0)
		return qs;
	if ((out->items = calloc((size_t)qs, sizeof *out->items)) == NULL)
		ok = 0;
	for (int i = 0; ok && i < (int)qs; i++) {
		struct store_c2d *e = &out->items[i];
		const char *hex = PQgetvalue(res, i, 8);
		size_t n = strlen(hex) / 2;

		out->n = i + 1;
		e->id = store_value_ll(res, i, 0);
		e->enqueued_at = store_value_ll(res, i, 1);
		e->enqueued_us = store_value_ll(res, i, 2);
		e->expires_at = store_value_ll(res, i, 3);
		e->delivered_at = store_value_ll(res, i, 4);
		e->status = e->delivered_at != 0	      ? C2D_DELIVERED
			    : PQgetvalue(res, i, 5)[0] == 't' ? C2D_EXPIRED
							      : C2D_QUEUED;
		e->system_properties = store_value_dup(res, i, 6, &ok);
		e->properties = store_value_dup(res, i, 7, &ok);
		if ((e->body = malloc(n + 1)) == NULL || hex_decode(hex, e->body, n + 1) != (long)n)
			ok = 0;
		else
			e->len = n;
	}
	if (!ok) {
		store_c2d_list_free(out);
		return STORE_HARD;
	}
	return qs;
}

enum store_qs store_insert_c2d(struct store_conn *c, const struct store_c2d_new *m,
			       enum c2d_insert *out, long long *id, long long *expires_at)
{
	/* One sender at a time per device, so the count below is the queue's
	 * (the next statement's snapshot is taken after the lock). */
	static struct store_stmt lock = {"c2d_lock",
					 "SELECT pg_advisory_xact_lock(hashtext('c2d ' || $1))", 0};
	static struct store_stmt st = {
		"insert_c2d",
		"WITH d AS (SELECT EXISTS (SELECT 1 FROM twins WHERE device_id = $1) AS known,"
		" (SELECT count(*) FROM c2d_messages WHERE device_id = $1 AND delivered_at IS NULL"
		" AND expires_at > now()) AS waiting),"
		" t AS (DELETE FROM c2d_messages WHERE device_id = $1"
		" AND coalesce(delivered_at, expires_at) < now() - interval '1 day'),"
		" i AS (INSERT INTO c2d_messages (device_id, expires_at, system_properties, properties,"
		" body) SELECT $1, now() + make_interval(secs => $2::int), $3::jsonb, $4::jsonb,"
		" decode($5, 'hex') FROM d WHERE known AND waiting < $6::int"
		" RETURNING id, extract(epoch from expires_at)::bigint AS exp)"
		" SELECT d.known, i.id, i.exp, (SELECT pg_notify('" EVENTS_C2D "', $1) FROM i)"
		" FROM d LEFT JOIN i ON true",
		0};
	char ttl[16], max[16], *hex = malloc(m->len * 2 + 1);
	const char *p[] = {m->device_id, ttl, m->system_properties, m->properties, hex, max};
	enum store_qs qs;
	PGresult *res;

	if (hex == NULL)
		return STORE_HARD;
	hex_encode(m->body, m->len, hex);
	snprintf(ttl, sizeof ttl, "%d", m->ttl);
	snprintf(max, sizeof max, "%d", C2D_QUEUE_MAX);
	if ((qs = store_exec_void(c, &lock, 1, p)) < 0) {
		free(hex);
		return qs;
	}
	res = store_exec(c, &st, 6, p, &qs);
	free(hex);
	if (qs > 0) {
		*out = PQgetvalue(res, 0, 0)[0] != 't' ? C2D_NO_DEVICE
		       : PQgetisnull(res, 0, 1)	       ? C2D_FULL
						       : C2D_INSERTED;
		*id = *out == C2D_INSERTED ? store_value_ll(res, 0, 1) : 0;
		*expires_at = *out == C2D_INSERTED ? store_value_ll(res, 0, 2) : 0;
	}
	PQclear(res);
	return qs;
}

enum store_qs store_select_c2d(struct store_conn *c, const char *device_id, long long after,
			       int limit, struct store_c2d_list *out)
{
	static struct store_stmt st = {"select_c2d",
				       "SELECT " C2D_COLUMNS
				       " FROM c2d_messages WHERE device_id = $1"
				       " AND id > $2 ORDER BY id LIMIT $3",
				       0};
	char a[24], n[16];
	const char *p[] = {device_id, a, n};
	enum store_qs qs;
	PGresult *res;

	snprintf(a, sizeof a, "%lld", after);
	snprintf(n, sizeof n, "%d", limit);
	res = store_exec(c, &st, 3, p, &qs);
	qs = rows(res, qs, out);
	PQclear(res);
	return qs;
}

enum store_qs store_take_c2d(struct store_conn *c, const char *device_id,
			     struct store_c2d_list *out)
{
	static struct store_stmt st = {
		"take_c2d",
		"WITH u AS (UPDATE c2d_messages SET delivered_at = now() WHERE id IN"
		" (SELECT id FROM c2d_messages WHERE device_id = $1 AND delivered_at IS NULL"
		" AND expires_at > now() FOR UPDATE SKIP LOCKED)"
		" RETURNING " C2D_COLUMNS ") SELECT * FROM u ORDER BY id",
		0};
	const char *p[] = {device_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	qs = rows(res, qs, out);
	PQclear(res);
	return qs;
}

enum store_qs store_requeue_c2d(struct store_conn *c, const char *device_id, long long id)
{
	static struct store_stmt st = {
		"requeue_c2d",
		"UPDATE c2d_messages SET delivered_at = NULL"
		" WHERE id = $2 AND device_id = $1 AND delivered_at IS NOT NULL",
		0};
	char i[24];
	const char *p[] = {device_id, i};

	snprintf(i, sizeof i, "%lld", id);
	return store_exec_void(c, &st, 2, p);
}

enum store_qs store_purge_c2d(struct store_conn *c, const char *device_id, long long *purged)
{
	static struct store_stmt st = {
		"purge_c2d",
		"WITH p AS (DELETE FROM c2d_messages WHERE device_id = $1 AND delivered_at IS NULL"
		" RETURNING 1) SELECT (SELECT count(*) FROM p) FROM twins WHERE device_id = $1",
		0};
	const char *p[] = {device_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	if (qs > 0)
		*purged = store_value_ll(res, 0, 0);
	PQclear(res);
	return qs;
}
