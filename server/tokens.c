/* Token creation: the row is written before the token is handed out, so
 * every token in circulation can be listed and revoked. */
#include "server/tokens.h"

#include <stdlib.h>

#include "server/auth.h"
#include "server/routes.h"
#include "server/store/operators.h"

char *tokens_create(struct auth *a, struct store *s, const char *subject, unsigned scopes, long ttl,
		    char jti[33], long *expires_at)
{
	char scope[256];
	char *token = auth_issue(a, subject, scopes, ttl, expires_at, jti);

	if (token == NULL)
		return NULL;
	scope_format(scopes, scope, sizeof scope);
	if (store_insert_token(s, jti, subject, scope, *expires_at) < 0) {
		free(token);
		return NULL;
	}
	return token;
}
