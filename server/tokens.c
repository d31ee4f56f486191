/* Token creation: the row (and the audit row of the request that minted
 * it) commit before the token is handed out, so every token in circulation
 * can be listed, traced to its issuer and revoked with it. */
#include "server/tokens.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/utf8.h"
#include "server/auth.h"
#include "server/routes.h"
#include "server/store/operators.h"

struct mint_txn {
	struct auth *auth;
	const struct tokens_mint *m;
	struct store_audit_new *audit;
	struct tokens_issued *out;
};

void tokens_issued_free(struct tokens_issued *t)
{
	if (t == NULL)
		return;
	free(t->token);
	memset(t, 0, sizeof *t);
}

bool tokens_subject_valid(const char *subject)
{
	size_t n = strlen(subject);
	const unsigned char *p = (const unsigned char *)subject;

	if (n == 0 || n > TOKENS_MAX_SUBJECT || !utf8_valid(subject, n))
		return false;
	for (size_t i = 0; i < n; i++)
		/* U+0080..U+009F (C1) encode as C2 80..C2 9F. */
		if (p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xc2 && p[i + 1] < 0xa0))
			return false;
	return true;
}

/* One attempt: the transaction runner may call it again on a retry. */
static enum store_qs mint_cb(struct store_conn *c, void *cls)
{
	struct mint_txn *t = cls;
	const struct tokens_mint *m = t->m;
	long ttl = m->ttl;
	char scope[256];
	enum store_qs qs;

	tokens_issued_free(t->out);
	if (m->issuer != NULL) {
		long long parent_exp;
		qs = store_lock_token(c, m->issuer, &parent_exp);
		if (qs <= 0)
			return qs;
		/* A token never outlives the one that minted it. */
		long left = (long)(parent_exp - (long long)time(NULL));
		if (left <= 0)
			return STORE_NONE;
		if (ttl > left)
			ttl = left;
	}
	t->out->token =
		auth_issue(t->auth, m->subject, m->scopes, ttl, &t->out->expires_at, t->out->jti);
	if (t->out->token == NULL) {
		log_bug("auth_issue failed");
		return STORE_HARD;
	}
	scope_format(m->scopes, scope, sizeof scope);
	struct store_token row = {.jti = t->out->jti,
				  .subject = (char *)m->subject,
				  .scopes = scope,
				  .issuer = (char *)m->issuer,
				  .expires_at = t->out->expires_at};
	qs = store_insert_token(c, &row);
	if (qs < 0)
		return qs;
	if (t->audit != NULL) {
		t->audit->target = t->out->jti;
		qs = store_insert_audit(c, t->audit, NULL);
	}
	return qs < 0 ? qs : STORE_ONE;
}

enum store_qs tokens_create(struct store *s, struct auth *a, const struct tokens_mint *m,
			    struct store_audit_new *audit, struct tokens_issued *out)
{
	struct mint_txn t = {a, m, audit, out};
	enum store_qs qs;

	memset(out, 0, sizeof *out);
	qs = store_run_txn(s, mint_cb, &t);
	if (qs <= 0)
		tokens_issued_free(out);
	return qs > 0 ? STORE_ONE : qs;
}

static enum store_qs revoke_cb(struct store_conn *c, void *cls)
{
	return store_revoke_token(c, cls);
}

enum store_qs tokens_revoke(struct store *s, const char *jti)
{
	return store_run_txn(s, revoke_cb, (void *)jti);
}
