/* Changes a valid ACME account's contacts or status and announces it, in
 * one statement. */
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_update_acme_account(struct store_conn *c, const char *id, const char *contact,
					const char *status, struct store_acme_account *out)
{
	static struct store_stmt st = {
		"update_acme_account",
		"WITH u AS (UPDATE acme_accounts SET contact = coalesce($2::jsonb, contact),"
		" status = coalesce($3, status), updated_at = now()"
		" WHERE id = $1 AND status = 'valid' RETURNING *)"
		" SELECT " ACME_ACCOUNT_COLS ", pg_notify('" EVENTS_ACME_ACCOUNT "', id) FROM u",
		0};
	const char *p[] = {id, contact, status};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 3, p, &qs);

	return store_acme_account_row(res, qs, out);
}
