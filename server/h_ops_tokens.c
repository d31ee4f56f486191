/* /ops/tokens: issue (only scopes the caller holds itself), inspect and
 * revoke operator tokens. The token text is shown once, at issue. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/duration.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/operators.h"
#include "server/tokens.h"

/* Scopes as a JSON array of names or one space-separated string. */
static int scopes_from_json(json_t *v, unsigned *mask)
{
	*mask = 0;
	if (json_is_string(v)) {
		unsigned bad;
		*mask = scope_parse_list(json_string_value(v), &bad);
		return *mask != 0 && bad == 0 ? 0 : -1;
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach (v, i, e) {
		unsigned m = json_is_string(e) ? scope_parse(json_string_value(e)) : 0;
		if (m == 0)
			return -1;
		*mask |= m;
	}
	return 0;
}

int h_ops_token_create(struct request *req)
{
	json_t *j = req->json, *subject = json_object_get(j, "subject"),
	       *ttl = json_object_get(j, "ttl");
	unsigned scopes;
	long seconds = 3600, expires_at;
	char jti[33];

	if (!json_is_object(j) || !json_is_string(subject) || json_string_length(subject) == 0 ||
	    json_string_length(subject) >= sizeof req->op.sub)
		return reply_problem(req, ERR_INVALID_FIELD,
				     "subject: a non-empty string is required");
	if (scopes_from_json(json_object_get(j, "scope"), &scopes) != 0)
		return reply_problem(req, ERR_INVALID_FIELD,
				     "scope: a list of known scope names is required");
	if (ttl != NULL) {
		seconds = json_is_string(ttl)	 ? duration_parse(json_string_value(ttl))
			  : json_is_integer(ttl) ? (long)json_integer_value(ttl)
						 : -1;
		if (seconds <= 0 || seconds > TOKENS_MAX_TTL)
			return reply_problem(req, ERR_INVALID_FIELD,
					     "ttl: seconds or 15m/1h/7d style, at most 90 days");
	}
	/* Least privilege: nobody mints a token stronger than their own. */
	if ((scopes & req->op.scopes) != scopes)
		return reply_problem(req, ERR_FORBIDDEN_SCOPE,
				     "a token can only grant scopes its issuer holds");
	char *token = tokens_create(req->srv->auth, req->srv->store, json_string_value(subject),
				    scopes, seconds, jti, &expires_at);
	if (token == NULL)
		return reply_problem(req, ERR_DB_UNAVAILABLE, "could not record the token");
	char scope[256], exp[32];
	struct tm tm;
	time_t e = (time_t)expires_at;
	scope_format(scopes, scope, sizeof scope);
	gmtime_r(&e, &tm);
	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "token", token, "jti", jti, "subject",
				 json_string_value(subject), "scope", scope, "expires_at", exp);
	free(token);
	return reply_json_steal(req, 201, body);
}

int h_ops_token_get(struct request *req)
{
	json_t *row = NULL;
	enum store_qs qs = store_select_token(req->srv->store, req->params[0], &row);

	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_NOT_FOUND, "no token with this jti");
	return reply_json_steal(req, 200, row);
}

int h_ops_token_revoke(struct request *req)
{
	enum store_qs qs = store_revoke_token(req->srv->store, req->params[0]);

	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_NOT_FOUND, "no unrevoked token with this jti");
	return reply_empty(req, 204);
}
