/* newOrder for one identifier in one statement: the account's reusable
 * valid authorization for it if there is one (and reuse is allowed), else
 * a new pending one with its challenges, then the order, read back with
 * its state (ACME_ORDER_ONE_STATE). Where store_run_txn() with pg_select_acme_authz_reusable.c,
 * pg_insert_acme_authz.c and pg_insert_acme_order.c took five round trips
 * (BEGIN, three statements, COMMIT), this is one. The order's state is
 * computed on the statement's snapshot, which does not see the new
 * authorization: no authorization reads as pending, as a new one is.
 * With late (ACME_LATE), the signer's nonce is taken in the same statement
 * and nothing is written unless it was taken fresh: one round trip and one
 * commit less per newOrder (with rate limits off; on, their read takes
 * the nonce). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_order_one(struct store_conn *c, const char *id, const char *account,
					  const char *identifiers, const char *profile, int ttl_s,
					  const struct store_acme_authz_new *a,
					  struct store_acme_late *late,
					  struct store_acme_order *out)
{
	static struct store_stmt st = {
		"insert_acme_order_one",
		"WITH " ACME_ORDER_ONE_CTES("true") " SELECT " ACME_ORDER_COLS_STATE(
			"o", ACME_ORDER_ONE_STATE) " FROM o",
		0};
	/* ACME_LATE: the same, written only when the signer's nonce ($16)
	 * is taken fresh for account $2 holding key $17; the account's row
	 * and the nonce's state first, as ACME_LATE_SQL's. */
	static struct store_stmt st_late = {
		"take_acme_nonce_order_one",
		"WITH " ACME_NONCE_TAKE_CTE(
			"$2", "$16",
			"$17") ","
			       " " ACME_ORDER_ONE_CTES(
				       "EXISTS (SELECT 1 FROM n WHERE fresh)") " SELECT acc.*, (SELECT fresh FROM n), x.* FROM (SELECT " ACME_ACCOUNT_COLS
									       " FROM acme_accounts WHERE id = $2) acc LEFT JOIN LATERAL (SELECT " ACME_ORDER_COLS_STATE(
										       "o",
										       ACME_ORDER_ONE_STATE) " FROM o) x ON true",
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
			   tok,
			   late ? late->nonce : NULL,
			   late ? late->jwk : NULL};
	enum store_qs qs = STORE_HARD;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	snprintf(reuse_s, sizeof reuse_s, "%d", a->reuse_min_s);
	snprintf(authz_ttl, sizeof authz_ttl, "%d", a->ttl_s);
	memset(out, 0, sizeof *out);
	if (ids != NULL && ty != NULL && tok != NULL && late == NULL) {
		res = store_exec(c, &st, 15, p, &qs);
		qs = store_acme_order_row(res, qs, out);
	} else if (ids != NULL && ty != NULL && tok != NULL) {
		res = store_exec(c, &st_late, 17, p, &qs);
		qs = store_acme_nonce_account_row(res, qs, late->account, &late->nonce_state);
		if (qs == STORE_ONE && !PQgetisnull(res, 0, ACME_LATE_COL) &&
		    store_acme_order_fill(res, ACME_LATE_COL, out) != 0) {
			store_acme_account_free(late->account);
			qs = STORE_HARD;
		}
		PQclear(res);
	}
	free(ids);
	free(ty);
	free(tok);
	return qs;
}
