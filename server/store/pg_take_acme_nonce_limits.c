/* newOrder's rate-limit counts, with its signer's account and nonce in the
 * same statement (ACME_LATE): the account is the object ($1 = $2). */
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_take_acme_nonce_limits(struct store_conn *c, struct store_acme_late *late,
					   long long *orders_hour, long long *retry_after_s,
					   long long *pending_authzs)
{
	static struct store_stmt st = {"take_acme_nonce_limits", ACME_LATE_SQL(ACME_LIMITS_SELECT),
				       0};
	enum store_qs qs;
	PGresult *res = store_acme_late_exec(c, &st, late->account_id, late, &qs);

	if (res != NULL) {
		*orders_hour = store_value_ll(res, 0, ACME_LATE_COL);
		*retry_after_s = store_value_ll(res, 0, ACME_LATE_COL + 1);
		*pending_authzs = store_value_ll(res, 0, ACME_LATE_COL + 2);
	}
	PQclear(res);
	return qs;
}
