/* Rolls an ACME account over to a new key (RFC 8555 7.3.5) and announces
 * it, in one statement; the old key must still be the account's, so two
 * racing key changes cannot both win. */
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_update_acme_account_key(struct store_conn *c, const char *id,
					    const char *old_thumbprint, const char *thumbprint,
					    const char *jwk, struct store_acme_account *out)
{
	static struct store_stmt st = {
		"update_acme_account_key",
		"WITH u AS (UPDATE acme_accounts SET key_thumbprint = $3, jwk = $4,"
		" updated_at = now() WHERE id = $1 AND key_thumbprint = $2 AND status = 'valid'"
		" RETURNING *)"
		" SELECT " ACME_ACCOUNT_COLS ", pg_notify('" EVENTS_ACME_ACCOUNT "', id) FROM u",
		0};
	const char *p[] = {id, old_thumbprint, thumbprint, jwk};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 4, p, &qs);

	return store_acme_account_row(res, qs, out);
}
