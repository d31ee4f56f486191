/* Lists an account's ACME order ids, newest first, a page at a time
 * (RFC 8555 7.1.2.1): the page after order "after" (or the first page),
 * one more id than asked so the caller knows whether another page follows. */
#include <stdio.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_orders(struct store_conn *c, const char *account, const char *after,
				       int limit, char **ids)
{
	static struct store_stmt st = {
		"select_acme_orders",
		"SELECT coalesce(json_agg(id ORDER BY created_at DESC, id DESC), '[]')::text FROM"
		" (SELECT id, created_at FROM acme_orders WHERE account_id = $1 AND ($2 = '' OR"
		" (created_at, id) < (SELECT created_at, id FROM acme_orders WHERE id = $2"
		" AND account_id = $1)) ORDER BY created_at DESC, id DESC LIMIT $3::int + 1) o",
		0};
	char lim[16];
	const char *p[] = {account, after ? after : "", lim};
	enum store_qs qs;
	PGresult *res;
	int ok = 1;

	snprintf(lim, sizeof lim, "%d", limit);
	res = store_exec(c, &st, 3, p, &qs);
	*ids = NULL;
	if (qs == STORE_ONE && (*ids = store_value_dup(res, 0, 0, &ok)) == NULL)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
