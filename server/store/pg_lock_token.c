/* Holds an unrevoked token against revocation while a token minted from it
 * is recorded: a revocation running at the same time waits for the mint
 * and then revokes the new token too (see pg_revoke_token.c). */
#include "server/store/operators.h"
#include "server/store/store_pg.h"

enum store_qs store_lock_token(struct store_conn *c, const char *jti, long long *expires_at)
{
	static struct store_stmt st = {
		"lock_token",
		"SELECT " STORE_EPOCH(
			"expires_at") " FROM operator_tokens"
				      " WHERE jti = $1 AND revoked_at IS NULL FOR SHARE",
		0};
	const char *p[] = {jti};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	*expires_at = qs == STORE_ONE ? store_value_ll(res, 0, 0) : 0;
	PQclear(res);
	return qs;
}
