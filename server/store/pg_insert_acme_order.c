/* Records a new ACME order over its authorizations and returns it as
 * store_select_acme_order() reads one (RETURNING: one round trip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_order(struct store_conn *c, const char *id, const char *account,
				      const char *identifiers, size_t n,
				      const char *const *authz_ids, const char *profile,
				      const char *replaces, int ttl_s, struct store_acme_order *out)
{
	static struct store_stmt st = {
		"insert_acme_order",
		"INSERT INTO acme_orders AS o (id, account_id, identifiers, authz_ids, profile, expires_at,"
		" replaces) VALUES ($1, $2, $3::jsonb, ARRAY(SELECT json_array_elements_text($4::json)),"
		" $5, now() + make_interval(secs => $6::int), $7) RETURNING " ACME_ORDER_COLS("o"),
		0};
	char ttl[16], *ids = store_json_strings(n, authz_ids);
	const char *p[] = {id, account, identifiers, ids, profile, ttl, replaces};
	enum store_qs qs = STORE_HARD;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	if (ids == NULL) {
		memset(out, 0, sizeof *out);
		return qs;
	}
	res = store_exec(c, &st, 7, p, &qs);
	free(ids);
	return store_acme_order_row(res, qs, out);
}
