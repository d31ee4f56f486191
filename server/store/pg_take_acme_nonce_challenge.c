/* A challenge read or answered, with its signer's account and nonce
 * (ACME_LATE) in the same statement; an answer also starts it there
 * (store_start_acme_challenge()'s rule): one round trip and one
 * transaction where the kid check, the read and the start were three. */
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

/* The start happens only when the nonce is taken fresh (so the account is
 * valid and holds the key the signature verified with) and the
 * authorization is the signer's; cond narrows it by type. The row read is
 * the one before the start (the statement's snapshot). */
#define START_SQL(cond)                                                                                         \
	"WITH " ACME_NONCE_TAKE_CTE(                                                                            \
		"$2", "$3",                                                                                     \
		"$4") ","                                                                                       \
		      " s AS (UPDATE acme_challenges ch SET status = 'processing', updated_at = now()"          \
		      " WHERE ch.id = $1" cond " AND EXISTS (SELECT 1 FROM n WHERE fresh)"                      \
		      " AND (SELECT a.account_id = $2 AND acme_authz_state(a.status, a.expires_at) = 'pending'" \
		      " FROM acme_authzs a WHERE a.id = ch.authz_id)"                                           \
		      " AND (ch.status = 'pending' OR (ch.status = 'processing'"                                \
		      " AND ch.updated_at < now() - interval '60 s')) RETURNING ch.id)"                         \
		      " SELECT acc.*, (SELECT fresh FROM n), obj.*, EXISTS (SELECT 1 FROM s)"                   \
		      " FROM (SELECT " ACME_ACCOUNT_COLS " FROM acme_accounts WHERE id = $2) acc"               \
		      " LEFT JOIN LATERAL (" ACME_CHALL_SELECT ") obj ON true"

enum store_qs store_take_acme_nonce_challenge(struct store_conn *c, const char *id,
					      struct store_acme_late *late,
					      enum store_chall_take how,
					      struct store_acme_chall *out, bool *started)
{
	static struct store_stmt read = {"take_acme_nonce_challenge",
					 ACME_LATE_SQL(ACME_CHALL_SELECT), 0};
	static struct store_stmt start = {"take_acme_nonce_start_challenge",
					  START_SQL(" AND ch.type <> 'device-attest-01'"), 0};
	static struct store_stmt start_any = {"take_acme_nonce_start_any_challenge", START_SQL(""),
					      0};
	struct store_stmt *st = how == STORE_CHALL_READ	   ? &read
				: how == STORE_CHALL_START ? &start
							   : &start_any;
	enum store_qs qs;
	PGresult *res = store_acme_late_exec(c, st, id, late, &qs);

	memset(out, 0, sizeof *out);
	*started = false;
	if (res != NULL && store_acme_chall_fill(res, ACME_LATE_COL, out) != 0) {
		store_acme_account_free(late->account);
		qs = STORE_HARD;
	} else if (res != NULL && how != STORE_CHALL_READ) {
		*started = strcmp(PQgetvalue(res, 0, PQnfields(res) - 1), "t") == 0;
	}
	PQclear(res);
	return qs;
}
