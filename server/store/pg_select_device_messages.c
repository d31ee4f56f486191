/* Reads a page of a device's stored messages, or of every device's, oldest
 * first, after an id and since a time; frees such pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "server/store/messages.h"
#include "server/store/store_pg.h"

#define MESSAGE_COLS                                                                               \
	"SELECT id, device_id, extract(epoch from received_at)::bigint,"                           \
	" extract(microseconds from received_at)::bigint % 1000000,"                               \
	" system_properties::text, properties::text, encode(body, 'hex') FROM device_messages"

void store_messages_free(struct store_messages *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->n; i++) {
		free(p->items[i].device_id);
		free(p->items[i].system_properties);
		free(p->items[i].properties);
		free(p->items[i].body);
	}
	free(p->items);
	memset(p, 0, sizeof *p);
}

enum store_qs store_select_device_messages(struct store_conn *c, const char *device_id,
					   long long after, long long since, int limit,
					   struct store_messages *out)
{
	/* two statements, so each keeps its own plan and index: (device_id,
	 * id) for one device, the primary key for all */
	static struct store_stmt one = {"select_device_messages",
					MESSAGE_COLS
					" WHERE device_id = $4 AND id > $1"
					" AND received_at >= to_timestamp($2) ORDER BY id LIMIT $3",
					0};
	static struct store_stmt all = {"select_messages",
					MESSAGE_COLS
					" WHERE id > $1 AND received_at >= to_timestamp($2)"
					" ORDER BY id LIMIT $3",
					0};
	char a[24], s[24], l[16];
	const char *p[] = {a, s, l, device_id};
	enum store_qs qs;
	PGresult *res;
	int ok = 1;

	memset(out, 0, sizeof *out);
	snprintf(a, sizeof a, "%lld", after);
	snprintf(s, sizeof s, "%lld", since);
	snprintf(l, sizeof l, "%d", limit);
	res = store_exec(c, device_id ? &one : &all, device_id ? 4 : 3, p, &qs);
	if (qs > 0) {
		out->items = calloc((size_t)qs, sizeof *out->items);
		if (out->items == NULL)
			ok = 0;
		for (int i = 0; ok && i < (int)qs; i++) {
			struct store_message *e = &out->items[i];
			const char *hex = PQgetvalue(res, i, 6);
			size_t n = strlen(hex) / 2;

			out->n = i + 1;
			e->id = store_value_ll(res, i, 0);
			e->device_id = store_value_dup(res, i, 1, &ok);
			e->received_at = store_value_ll(res, i, 2);
			e->received_us = store_value_ll(res, i, 3);
			e->system_properties = store_value_dup(res, i, 4, &ok);
			e->properties = store_value_dup(res, i, 5, &ok);
			if ((e->body = malloc(n + 1)) == NULL ||
			    hex_decode(hex, e->body, n + 1) != (long)n)
				ok = 0;
			else
				e->len = n;
		}
		if (!ok) {
			store_messages_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}

enum store_qs store_select_newest_message(struct store_conn *c, long long *id)
{
	static struct store_stmt st = {"select_newest_message",
				       "SELECT coalesce(max(id), 0) FROM device_messages", 0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);

	if (qs > 0)
		*id = store_value_ll(res, 0, 0);
	PQclear(res);
	return qs;
}
