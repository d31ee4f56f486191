/* An order read by POST-as-GET or finalize, with its signer's account and
 * nonce in the same statement (ACME_LATE): one round trip where the kid
 * check and the read were two. Column 0-6 the account, 7 the nonce, 8 on
 * the order (NULL when there is none: LEFT JOIN). */
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_take_acme_nonce_order(struct store_conn *c, const char *id,
					  const char *account_id, const char *nonce,
					  const char *jwk, struct store_acme_account *account,
					  enum store_nonce_state *nonce_state,
					  struct store_acme_order *order)
{
	static struct store_stmt st = {
		"take_acme_nonce_order",
		"WITH " ACME_NONCE_TAKE_CTE("$2", "$3", "$4") " SELECT acc.*, (SELECT fresh FROM n),"
		" ord.* FROM (SELECT " ACME_ACCOUNT_COLS " FROM acme_accounts WHERE id = $2) acc"
		" LEFT JOIN LATERAL (SELECT " ACME_ORDER_COLS("o") " FROM acme_orders o"
		" WHERE o.id = $1) ord ON true",
		0};
	const char *p[] = {id, account_id, nonce, jwk};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 4, p, &qs);

	memset(order, 0, sizeof *order);
	qs = store_acme_nonce_account_row(res, qs, account, nonce_state);
	if (qs == STORE_ONE && !PQgetisnull(res, 0, 8) && store_acme_order_fill(res, 8, order) != 0) {
		store_acme_account_free(account);
		qs = STORE_HARD;
	}
	PQclear(res);
	return qs;
}
