/* Reads one ACME order with its computed state; reads and frees order rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

void store_acme_order_free(struct store_acme_order *o)
{
	if (o == NULL)
		return;
	free(o->id);
	free(o->account_id);
	free(o->status);
	free(o->identifiers);
	free(o->authz_ids);
	free(o->profile);
	free(o->error);
	free(o->certificate);
	free(o->replaces);
	memset(o, 0, sizeof *o);
}

int store_acme_order_fill(const PGresult *res, int col, struct store_acme_order *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->id = store_value_dup(res, 0, col + 0, &ok);
	out->account_id = store_value_dup(res, 0, col + 1, &ok);
	out->status = store_value_dup(res, 0, col + 2, &ok);
	out->identifiers = store_value_dup(res, 0, col + 3, &ok);
	out->authz_ids = store_value_dup(res, 0, col + 4, &ok);
	out->profile = store_value_dup(res, 0, col + 5, &ok);
	out->error = store_value_dup(res, 0, col + 6, &ok);
	out->expires_at = store_value_ll(res, 0, col + 7);
	out->certificate = store_value_dup(res, 0, col + 8, &ok);
	out->replaces = store_value_dup(res, 0, col + 9, &ok);
	if (!ok)
		store_acme_order_free(out);
	return ok ? 0 : -1;
}

enum store_qs store_acme_order_row(PGresult *res, enum store_qs qs, struct store_acme_order *out)
{
	if (out != NULL && qs == STORE_ONE && store_acme_order_fill(res, 0, out) != 0)
		qs = STORE_HARD;
	else if (out != NULL && qs != STORE_ONE)
		memset(out, 0, sizeof *out);
	PQclear(res);
	return qs;
}

enum store_qs store_select_acme_order(struct store_conn *c, const char *id,
				      struct store_acme_order *out)
{
	static struct store_stmt st = {
		"select_acme_order",
		"SELECT " ACME_ORDER_COLS("o") " FROM acme_orders o WHERE o.id = $1", 0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	return store_acme_order_row(res, qs, out);
}
