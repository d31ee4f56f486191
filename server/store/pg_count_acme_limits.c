/* Counts what an ACME account's rate limits look at, in one statement. */
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_count_acme_limits(struct store_conn *c, const char *account,
				      long long *orders_hour, long long *retry_after_s,
				      long long *pending_authzs)
{
	static struct store_stmt st = {"count_acme_limits", ACME_LIMITS_SELECT, 0};
	const char *p[] = {account};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	if (qs == STORE_ONE) {
		*orders_hour = store_value_ll(res, 0, 0);
		*retry_after_s = store_value_ll(res, 0, 1);
		*pending_authzs = store_value_ll(res, 0, 2);
	}
	PQclear(res);
	return qs;
}
