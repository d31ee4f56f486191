/* Reads one ACME challenge with its authorization's identifier and state
 * and the account's current key thumbprint, and frees challenge rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

void store_acme_chall_free(struct store_acme_chall *ch)
{
	if (ch == NULL)
		return;
	free(ch->id);
	free(ch->authz_id);
	free(ch->account_id);
	free(ch->type);
	free(ch->token);
	free(ch->status);
	free(ch->ident_type);
	free(ch->ident_value);
	free(ch->authz_status);
	free(ch->thumbprint);
	memset(ch, 0, sizeof *ch);
}

int store_acme_chall_fill(const PGresult *res, int col, struct store_acme_chall *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->id = store_value_dup(res, 0, col + 0, &ok);
	out->authz_id = store_value_dup(res, 0, col + 1, &ok);
	out->account_id = store_value_dup(res, 0, col + 2, &ok);
	out->type = store_value_dup(res, 0, col + 3, &ok);
	out->token = store_value_dup(res, 0, col + 4, &ok);
	out->status = store_value_dup(res, 0, col + 5, &ok);
	out->ident_type = store_value_dup(res, 0, col + 6, &ok);
	out->ident_value = store_value_dup(res, 0, col + 7, &ok);
	out->wildcard = strcmp(PQgetvalue(res, 0, col + 8), "t") == 0;
	out->authz_status = store_value_dup(res, 0, col + 9, &ok);
	out->thumbprint = store_value_dup(res, 0, col + 10, &ok);
	if (!ok)
		store_acme_chall_free(out);
	return ok ? 0 : -1;
}

enum store_qs store_select_acme_challenge(struct store_conn *c, const char *id,
					  struct store_acme_chall *out)
{
	static struct store_stmt st = {"select_acme_challenge", ACME_CHALL_SELECT, 0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && store_acme_chall_fill(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
