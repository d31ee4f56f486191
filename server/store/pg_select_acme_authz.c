/* Reads one ACME authorization with its computed state and its challenges
 * as JSON, and frees authorization rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

void store_acme_authz_free(struct store_acme_authz *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->account_id);
	free(a->type);
	free(a->value);
	free(a->status);
	free(a->challenges);
	memset(a, 0, sizeof *a);
}

int store_acme_authz_fill(const PGresult *res, int col, struct store_acme_authz *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->id = store_value_dup(res, 0, col + 0, &ok);
	out->account_id = store_value_dup(res, 0, col + 1, &ok);
	out->type = store_value_dup(res, 0, col + 2, &ok);
	out->value = store_value_dup(res, 0, col + 3, &ok);
	out->wildcard = strcmp(PQgetvalue(res, 0, col + 4), "t") == 0;
	out->status = store_value_dup(res, 0, col + 5, &ok);
	out->expires_at = store_value_ll(res, 0, col + 6);
	out->challenges = store_value_dup(res, 0, col + 7, &ok);
	if (!ok)
		store_acme_authz_free(out);
	return ok ? 0 : -1;
}

enum store_qs store_select_acme_authz(struct store_conn *c, const char *id,
				      struct store_acme_authz *out)
{
	static struct store_stmt st = {"select_acme_authz", ACME_AUTHZ_SELECT, 0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && store_acme_authz_fill(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
