/* newOrder for one identifier in one statement: the account's reusable
 * valid authorization for it if there is one (and reuse is allowed), else
 * a new pending one with its challenges, then the order, read back with
 * its state. Where store_run_txn() with pg_select_acme_authz_reusable.c,
 * pg_insert_acme_authz.c and pg_insert_acme_order.c took five round trips
 * (BEGIN, three statements, COMMIT), this is one. The order's state is
 * computed on the statement's snapshot, which does not see the new
 * authorization: no authorization reads as pending, as a new one is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_order_one(struct store_conn *c, const char *id, const char *account,
					  const char *identifiers, const char *profile, int ttl_s,
					  const struct store_acme_authz_new *a,
					  struct store_acme_order *out)
{
	static struct store_stmt st = {
		"insert_acme_order_one",
		"WITH r AS (SELECT id FROM acme_authzs WHERE $10::boolean AND account_id = $2"
		" AND identifier_type = $7 AND identifier_value = $8 AND wildcard = $9::boolean"
		" AND status = 'valid' AND expires_at > now() + make_interval(secs => $11::int)"
		" ORDER BY expires_at DESC LIMIT 1),"
		" a AS (INSERT INTO acme_authzs (id, account_id, identifier_type, identifier_value,"
		" wildcard, expires_at) SELECT $6, $2, $7, $8, $9::boolean,"
		" now() + make_interval(secs => $12::int) WHERE NOT EXISTS (SELECT 1 FROM r)"
		" RETURNING id),"
		" ch AS (INSERT INTO acme_challenges (id, authz_id, type, token)"
		" SELECT i.v, a.id, t.v, k.v FROM a,"
		" json_array_elements_text($13::json) WITH ORDINALITY i(v, n)"
		" JOIN json_array_elements_text($14::json) WITH ORDINALITY t(v, n) USING (n)"
		" JOIN json_array_elements_text($15::json) WITH ORDINALITY k(v, n) USING (n)),"
		" o AS (INSERT INTO acme_orders (id, account_id, identifiers, authz_ids, profile,"
		" expires_at) VALUES ($1, $2, $3::jsonb, ARRAY(SELECT id FROM r UNION ALL"
		" SELECT id FROM a), $4, now() + make_interval(secs => $5::int)) RETURNING *)"
		" SELECT " ACME_ORDER_COLS("o") " FROM o",
		0};
	char ttl[16], reuse_s[16], authz_ttl[16];
	char *ids = store_json_strings(a->n, a->chall_ids),
	     *ty = store_json_strings(a->n, a->types), *tok = store_json_strings(a->n, a->tokens);
	const char *p[] = {id,
			   account,
			   identifiers,
			   profile,
			   ttl,
			   a->id,
			   a->type,
			   a->value,
			   a->wildcard ? "t" : "f",
			   a->reuse ? "t" : "f",
			   reuse_s,
			   authz_ttl,
			   ids,
			   ty,
			   tok};
	enum store_qs qs = STORE_HARD;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	snprintf(reuse_s, sizeof reuse_s, "%d", a->reuse_min_s);
	snprintf(authz_ttl, sizeof authz_ttl, "%d", a->ttl_s);
	if (ids == NULL || ty == NULL || tok == NULL) {
		memset(out, 0, sizeof *out);
	} else {
		res = store_exec(c, &st, 15, p, &qs);
		qs = store_acme_order_row(res, qs, out);
	}
	free(ids);
	free(ty);
	free(tok);
	return qs;
}
