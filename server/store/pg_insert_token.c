/* Records an issued operator token: its ID, holder, scopes, expiry and the
 * token that minted it. */
#include <stdio.h>

#include "server/store/operators.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_token(struct store_conn *c, const struct store_token *t)
{
	static struct store_stmt st = {
		"insert_token",
		"INSERT INTO operator_tokens (jti, subject, scopes, issuer, expires_at)"
		" VALUES ($1, $2, $3, $4, to_timestamp($5))",
		0};
	char exp[24];
	const char *p[] = {t->jti, t->subject, t->scopes, t->issuer, exp};

	snprintf(exp, sizeof exp, "%lld", t->expires_at);
	return store_exec_void(c, &st, 5, p);
}
