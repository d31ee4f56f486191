/* A kid request's one round trip when its signature already verified with
 * the account's cached key: reads the account and uses the nonce up in one
 * statement, the nonce only when the account is valid and its stored key
 * is still the one the signature was checked with, so a request refused
 * for its account leaves its nonce as pg_take_acme_nonce.c would. */
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_acme_nonce_account_row(const PGresult *res, enum store_qs qs,
					   struct store_acme_account *out,
					   enum store_nonce_state *nonce_state)
{
	*nonce_state = STORE_NONCE_UNKNOWN;
	memset(out, 0, sizeof *out);
	if (qs != STORE_ONE)
		return qs;
	if (!PQgetisnull(res, 0, 7))
		*nonce_state = strcmp(PQgetvalue(res, 0, 7), "t") == 0 ? STORE_NONCE_FRESH
								       : STORE_NONCE_EXPIRED;
	return store_acme_account_fill(res, 0, out) == 0 ? qs : STORE_HARD;
}

enum store_qs store_take_acme_nonce_account(struct store_conn *c, const char *id, const char *nonce,
					    const char *jwk, struct store_acme_account *out,
					    enum store_nonce_state *nonce_state)
{
	static struct store_stmt st = {
		"take_acme_nonce_account",
		"WITH " ACME_NONCE_TAKE_CTE(
			"$1", "$2",
			"$3") " SELECT " ACME_ACCOUNT_COLS
			      ", (SELECT fresh FROM n) FROM acme_accounts WHERE id = $1",
		0};
	const char *p[] = {id, nonce, jwk};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 3, p, &qs);

	qs = store_acme_nonce_account_row(res, qs, out, nonce_state);
	PQclear(res);
	return qs;
}

PGresult *store_acme_late_exec(struct store_conn *c, struct store_stmt *st, const char *id,
			       struct store_acme_late *late, enum store_qs *qs)
{
	const char *p[] = {id, late->account_id, late->nonce, late->jwk};
	PGresult *res = store_exec(c, st, 4, p, qs);

	*qs = store_acme_nonce_account_row(res, *qs, late->account, &late->nonce_state);
	if (*qs == STORE_ONE && !PQgetisnull(res, 0, ACME_LATE_COL))
		return res;
	PQclear(res);
	return NULL;
}
