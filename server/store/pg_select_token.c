/* Reads one operator token's row, and frees such rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/operators.h"
#include "server/store/store_pg.h"

void store_token_free(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->jti);
	free(t->subject);
	free(t->scopes);
	free(t->issuer);
	memset(t, 0, sizeof *t);
}

enum store_qs store_select_token(struct store_conn *c, const char *jti, struct store_token *out)
{
	static struct store_stmt st = {
		"select_token",
		"SELECT jti, subject, scopes, issuer, " STORE_EPOCH("issued_at") ", " STORE_EPOCH(
			"expires_at") ", " STORE_EPOCH("revoked_at") " FROM operator_tokens WHERE jti = $1",
		0};
	const char *p[] = {jti};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE) {
		out->jti = store_value_dup(res, 0, 0, &ok);
		out->subject = store_value_dup(res, 0, 1, &ok);
		out->scopes = store_value_dup(res, 0, 2, &ok);
		out->issuer = store_value_dup(res, 0, 3, &ok);
		out->issued_at = store_value_ll(res, 0, 4);
		out->expires_at = store_value_ll(res, 0, 5);
		out->revoked_at = store_value_ll(res, 0, 6);
		if (!ok) {
			store_token_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
