/* /ops/tokens: issue (only scopes the caller holds itself, never outliving
 * it), inspect and revoke operator tokens. The token text is shown once,
 * at issue, in a response no cache may keep. */
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/timefmt.h"
#include "server/audit.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/operators.h"
#include "server/tokens.h"

/* json_spec parsers for the token request. Each writes through s->dest. */

/* Scopes as a JSON array of names or one space-separated string. */
static enum json_spec_rc parse_scopes(const struct json_spec *s, json_t *v, const char *ptr,
				      struct json_spec_error *err)
{
	unsigned *mask = s->dest, bad = 0;
	size_t i;
	json_t *e;

	*mask = 0;
	if (json_is_string(v)) {
		*mask = scope_parse_list(json_string_value(v), &bad);
		if (*mask == 0 || bad != 0)
			return json_spec_fail(err, ptr, "must name known scopes");
		return JSON_SPEC_OK;
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return json_spec_fail(err, ptr, "must be a list of known scope names");
	json_array_foreach (v, i, e) {
		unsigned m = json_is_string(e) ? scope_parse(json_string_value(e)) : 0;
		if (m == 0)
			return json_spec_fail(err, ptr, "item %zu is not a known scope name", i);
		*mask |= m;
	}
	return JSON_SPEC_OK;
}

/* Seconds, or a duration such as "15m", "1h", "7d". */
static enum json_spec_rc parse_ttl(const struct json_spec *s, json_t *v, const char *ptr,
				   struct json_spec_error *err)
{
	long *ttl = s->dest;

	*ttl = json_is_string(v)    ? duration_parse(json_string_value(v))
	       : json_is_integer(v) ? (long)json_integer_value(v)
				    : -1;
	if (*ttl <= 0 || *ttl > TOKENS_MAX_TTL)
		return json_spec_fail(err, ptr,
				      "must be seconds or 15m/1h/7d style, at most 90 days");
	return JSON_SPEC_OK;
}

static enum json_spec_rc parse_subject(const struct json_spec *s, json_t *v, const char *ptr,
				       struct json_spec_error *err)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
	    !tokens_subject_valid(json_string_value(v)))
		return json_spec_fail(err, ptr,
				      "must be 1 to %d bytes of text without control characters",
				      TOKENS_MAX_SUBJECT);
	*(const char **)s->dest = json_string_value(v);
	return JSON_SPEC_OK;
}

int h_ops_token_create(struct request *req)
{
	struct tokens_mint m = {.ttl = 3600, .issuer = req->op.jti};
	struct json_spec spec[] = {
		{.field = "subject", .parse = parse_subject, .dest = &m.subject},
		{.field = "scope", .parse = parse_scopes, .dest = &m.scopes},
		{.field = "ttl", .parse = parse_ttl, .dest = &m.ttl, .flags = JSON_SPEC_OPTIONAL},
		json_spec_end(),
	};
	struct tokens_issued issued;
	struct store_audit_new audit;
	char *params = NULL, scope[256], exp[TIMEFMT_RFC3339_LEN];
	enum spec_status st;
	enum store_qs qs;

	/* Nothing in this spec allocates: no json_spec_free() is owed. */
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	/* Least privilege: nobody mints a token stronger than their own. */
	if ((m.scopes & req->op.scopes) != m.scopes)
		return reply_problem(req, ERR_FORBIDDEN_SCOPE,
				     "a token can only grant scopes its issuer holds");
	/* The audit row commits with the token or not at all. */
	audit_entry_from_request(req, 201, &audit, &params);
	qs = tokens_create(req->srv->store, req->srv->auth, &m, &audit, &issued);
	free(params);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, "could not record the token");
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_AUTH_REVOKED,
				     "the token used is revoked, expired or unknown here");
	req->audited = true;
	scope_format(m.scopes, scope, sizeof scope);
	timefmt_rfc3339(issued.expires_at, exp);
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "token", issued.token, "jti",
				 issued.jti, "subject", m.subject, "scope", scope, "expires_at",
				 exp, "issuer", req->op.jti);
	tokens_issued_free(&issued);
	return reply_json_private(req, 201, body); /* it carries a token */
}

/* Renders a token row for the operator API. */
static json_t *token_json(const struct store_token *t)
{
	char issued[TIMEFMT_RFC3339_LEN], exp[TIMEFMT_RFC3339_LEN], rev[TIMEFMT_RFC3339_LEN];

	timefmt_rfc3339(t->issued_at, issued);
	timefmt_rfc3339(t->expires_at, exp);
	timefmt_rfc3339(t->revoked_at, rev);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "jti", t->jti, "subject",
			 t->subject, "scope", t->scopes, "issued_at", issued, "expires_at", exp,
			 "revoked_at", t->revoked_at ? json_string(rev) : json_null(), "issuer",
			 t->issuer ? json_string(t->issuer) : json_null());
}

struct token_get {
	const char *jti;
	struct store_token row;
};

static enum store_qs token_get_cb(struct store_conn *c, void *cls)
{
	struct token_get *g = cls;

	return store_select_token(c, g->jti, &g->row);
}

int h_ops_token_get(struct request *req)
{
	struct token_get g = {.jti = req->params[0]};
	enum store_qs qs = store_run(req->srv->store, token_get_cb, &g);
	int ret;

	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_NOT_FOUND, "no token with this jti");
	ret = reply_json_steal(req, 200, token_json(&g.row));
	store_token_free(&g.row);
	return ret;
}

int h_ops_token_revoke(struct request *req)
{
	enum store_qs qs = tokens_revoke(req->srv->store, req->params[0]);

	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_NOT_FOUND, "no unrevoked token with this jti");
	return reply_empty(req, 204);
}
