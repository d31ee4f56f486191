/* Reads one ACME account by id or by key thumbprint, and frees such rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

void store_acme_account_free(struct store_acme_account *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->thumbprint);
	free(a->jwk);
	free(a->contact);
	free(a->status);
	memset(a, 0, sizeof *a);
}

int store_acme_account_fill(const PGresult *res, int col, struct store_acme_account *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->id = store_value_dup(res, 0, col + 0, &ok);
	out->thumbprint = store_value_dup(res, 0, col + 1, &ok);
	out->jwk = store_value_dup(res, 0, col + 2, &ok);
	out->contact = store_value_dup(res, 0, col + 3, &ok);
	out->status = store_value_dup(res, 0, col + 4, &ok);
	out->tos_agreed = strcmp(PQgetvalue(res, 0, col + 5), "t") == 0;
	out->created_at = store_value_ll(res, 0, col + 6);
	if (!ok)
		store_acme_account_free(out);
	return ok ? 0 : -1;
}

enum store_qs store_acme_account_row(PGresult *res, enum store_qs qs,
				     struct store_acme_account *out)
{
	if (qs == STORE_ONE && store_acme_account_fill(res, 0, out) != 0)
		qs = STORE_HARD;
	else if (qs != STORE_ONE)
		memset(out, 0, sizeof *out);
	PQclear(res);
	return qs;
}

enum store_qs store_select_acme_account(struct store_conn *c, const char *id,
					struct store_acme_account *out)
{
	static struct store_stmt st = {
		"select_acme_account",
		"SELECT " ACME_ACCOUNT_COLS " FROM acme_accounts WHERE id = $1", 0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	return store_acme_account_row(res, qs, out);
}
