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
 * the nonce). The challenges' columns arrive as text[] literals, which
 * unnest takes as they are: json arrays cost three InitPlans, each
 * expanding its array again (callgrind, replayed under BEGIN/ROLLBACK:
 * with the account read once, 1,196 K -> 1,121 K instructions). */
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
	 * and the nonce's state first, the account read once (ACME_LATE_CTES,
	 * as ACME_LATE_SQL's). */
	static struct store_stmt st_late = {
		"take_acme_nonce_order_one",
		"WITH " ACME_LATE_CTES("$2", "$16", "$17") ", " ACME_ORDER_ONE_CTES(
			"EXISTS (SELECT 1 FROM n WHERE fresh)") " SELECT " ACME_LATE_ACC
								", x.* FROM acc LEFT JOIN LATERAL (SELECT " ACME_ORDER_COLS_STATE(
									"o",
									ACME_ORDER_ONE_STATE) " FROM o) x ON true",
		0};
	struct buf ab[3];
	const char *arr[3];
	char ttl[16], reuse_s[16], authz_ttl[16];
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
			   NULL,
			   NULL,
			   NULL,
			   late ? late->nonce : NULL,
			   late ? late->jwk : NULL};
	enum store_qs qs = STORE_HARD;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	snprintf(reuse_s, sizeof reuse_s, "%d", a->reuse_min_s);
	snprintf(authz_ttl, sizeof authz_ttl, "%d", a->ttl_s);
	memset(out, 0, sizeof *out);
	for (int k = 0; k < 3; k++) {
		const char *const *col = k == 0 ? a->chall_ids : k == 1 ? a->types : a->tokens;
		int rc = 0;
		buf_init(&ab[k], 16384);
		for (size_t i = 0; i < a->n; i++)
			rc |= store_array_add(&ab[k], col[i]);
		arr[k] = rc == 0 ? store_array_end(&ab[k]) : NULL;
	}
	p[12] = arr[0];
	p[13] = arr[1];
	p[14] = arr[2];
	if (arr[0] == NULL || arr[1] == NULL || arr[2] == NULL) {
		qs = STORE_HARD;
	} else if (late == NULL) {
		res = store_exec(c, &st, 15, p, &qs);
		qs = store_acme_order_row(res, qs, out);
	} else {
		res = store_exec(c, &st_late, 17, p, &qs);
		qs = store_acme_nonce_account_row(res, qs, late->account, &late->nonce_state);
		if (qs == STORE_ONE && !PQgetisnull(res, 0, ACME_LATE_COL) &&
		    store_acme_order_fill(res, ACME_LATE_COL, out) != 0) {
			store_acme_account_free(late->account);
			qs = STORE_HARD;
		}
		PQclear(res);
	}
	for (int k = 0; k < 3; k++)
		buf_free(&ab[k]);
	return qs;
}
