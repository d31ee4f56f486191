/* Revokes a token and its descendants. The first statement locks the whole
 * subtree, waiting for any mint in flight under it to commit (a mint holds
 * its parent FOR SHARE); the second, with a fresh snapshot that sees those
 * new tokens, revokes the tree and announces each jti in one statement. */
#include "server/store/operators.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

#define TOKEN_TREE                                                                                 \
	"WITH RECURSIVE tree (jti) AS (SELECT jti FROM operator_tokens WHERE jti = $1"             \
	" UNION SELECT t.jti FROM operator_tokens t JOIN tree ON t.issuer = tree.jti) "

enum store_qs store_revoke_token(struct store_conn *c, const char *jti)
{
	static struct store_stmt lock = {"revoke_token_lock",
					 TOKEN_TREE
					 "SELECT jti FROM operator_tokens"
					 " WHERE jti IN (SELECT jti FROM tree) FOR UPDATE",
					 0};
	static struct store_stmt revoke = {
		"revoke_token",
		TOKEN_TREE
		", r AS (UPDATE operator_tokens SET revoked_at = now()"
		" WHERE jti IN (SELECT jti FROM tree) AND revoked_at IS NULL RETURNING jti)"
		" SELECT pg_notify('" EVENTS_TOKEN_REVOKED "', jti) FROM r",
		0};
	const char *p[] = {jti};
	enum store_qs qs = store_exec_void(c, &lock, 1, p);

	if (qs < 0)
		return qs;
	return store_exec_void(c, &revoke, 1, p);
}
