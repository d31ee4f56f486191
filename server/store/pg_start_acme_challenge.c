/* Claims a challenge for validation: pending to processing, in one
 * statement, so of several requests (or instances) exactly one starts it.
 * The authorization as a subquery by id, not a join: the generic plan made
 * while acme_authzs was small joined it by a sequential scan (one per
 * issuance, reading the whole table: auto_explain in bench/acme.sh's run). */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_start_acme_challenge(struct store_conn *c, const char *id)
{
	static struct store_stmt st = {
		"start_acme_challenge",
		"UPDATE acme_challenges ch SET status = 'processing', updated_at = now()"
		" WHERE ch.id = $1 AND (SELECT acme_authz_state(a.status, a.expires_at)"
		" FROM acme_authzs a WHERE a.id = ch.authz_id) = 'pending'"
		" AND (ch.status = 'pending' OR (ch.status = 'processing'"
		" AND ch.updated_at < now() - interval '60 s')) RETURNING ch.id",
		0};
	const char *p[] = {id};

	/* RETURNING: the row count says whether this caller claimed it. */
	return store_exec_void(c, &st, 1, p);
}
