/* Reads a page of a device's stored messages, oldest first, after an id
 * and since a time; frees such pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "server/store/messages.h"
#include "server/store/store_pg.h"

void store_messages_free(struct store_messages *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->n; i++) {
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
	static struct store_stmt st = {
		"select_device_messages",
		"SELECT id, " STORE_EPOCH(
			"received_at") ","
				       " extract(microseconds from received_at)::bigint % 1000000,"
				       " system_properties::text, properties::text, encode(body, 'hex')"
				       " FROM device_messages WHERE device_id = $1 AND id > $2"
				       " AND received_at >= to_timestamp($3) ORDER BY id LIMIT $4",
		0};
	char a[24], s[24], l[16];
	const char *p[] = {device_id, a, s, l};
	enum store_qs qs;
	PGresult *res;
	int ok = 1;

	memset(out, 0, sizeof *out);
	snprintf(a, sizeof a, "%lld", after);
	snprintf(s, sizeof s, "%lld", since);
	snprintf(l, sizeof l, "%d", limit);
	res = store_exec(c, &st, 4, p, &qs);
	if (qs > 0) {
		out->items = calloc((size_t)qs, sizeof *out->items);
		if (out->items == NULL)
			ok = 0;
		for (int i = 0; ok && i < (int)qs; i++) {
			struct store_message *e = &out->items[i];
			const char *hex = PQgetvalue(res, i, 5);
			size_t n = strlen(hex) / 2;

			out->n = i + 1;
			e->id = store_value_ll(res, i, 0);
			e->received_at = store_value_ll(res, i, 1);
			e->received_us = store_value_ll(res, i, 2);
			e->system_properties = store_value_dup(res, i, 3, &ok);
			e->properties = store_value_dup(res, i, 4, &ok);
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
