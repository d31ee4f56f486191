/* A challenge answer's nonce and its validation's outcome in one
 * statement (ACME_LATE): the outcome is recorded only when the nonce is
 * taken fresh, the account valid with the key the signature verified
 * with, the challenge still pending and its authorization the signer's
 * and pending; otherwise nothing changes. No notify on EVENTS_ACME_AUTHZ,
 * which wakes the readers of an authorization whose challenge is
 * processing: this one was pending. A notifying commit holds
 * PostgreSQL's notify lock through its WAL flush (pgstmt: WAL syncs per
 * issuance 2.46/2.29 -> 1.62/1.43 without this one). */
#include <stdio.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_take_acme_nonce_finish_challenge(struct store_conn *c, const char *id,
						     struct store_acme_late *late, bool ok,
						     const char *error, int valid_ttl_s,
						     bool *finished, long long *validated)
{
	static struct store_stmt st = {
		"take_acme_nonce_finish_challenge",
		"WITH " ACME_LATE_CTES("$2", "$3", "$4") ", " ACME_FINISH_CTES(
			"ch.id = $1 AND ch.status = 'pending' AND EXISTS (SELECT 1 FROM n WHERE fresh)"
			" AND (SELECT a.account_id = $2 AND acme_authz_state(a.status, a.expires_at) ="
			" 'pending' FROM acme_authzs a WHERE a.id = ch.authz_id)",
			"$5", "$6", "$7", "NULL", "NULL",
			"NULL") " SELECT " ACME_LATE_ACC ", f.* FROM acc LEFT JOIN LATERAL "
				"(" ACME_FINISH_SELECT("") ") f ON true",
		0};
	char ttl[16];
	const char *p[] = {id, late->account_id, late->nonce, late->jwk, ok ? "t" : "f", error,
			   ttl};
	enum store_qs qs;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", valid_ttl_s);
	res = store_exec(c, &st, 7, p, &qs);
	qs = store_acme_nonce_account_row(res, qs, late->account, &late->nonce_state);
	*finished = qs == STORE_ONE && !PQgetisnull(res, 0, ACME_LATE_COL);
	*validated = *finished ? store_value_ll(res, 0, ACME_LATE_COL) : 0;
	PQclear(res);
	return qs;
}
