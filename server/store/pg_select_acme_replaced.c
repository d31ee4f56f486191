/* RFC 9773 replaces: who ordered a certificate and whether a live order
 * already replaces it. */
#include <stdlib.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_replaced(struct store_conn *c, const char *serial, char **account,
					 bool *replaced)
{
	static struct store_stmt st = {
		"select_acme_replaced",
		"SELECT c.acme_account_id, EXISTS (SELECT 1 FROM acme_orders o"
		" WHERE o.replaces = c.serial"
		" AND " ACME_ORDER_STATE("o") " <> 'invalid')"
					      " FROM certificates c WHERE c.serial = $1",
		0};
	const char *p[] = {serial};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	*account = NULL;
	*replaced = false;
	if (qs == STORE_ONE) {
		*account = store_value_dup(res, 0, 0, &ok);
		*replaced = PQgetvalue(res, 0, 1)[0] == 't';
		if (!ok) {
			free(*account);
			*account = NULL;
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
