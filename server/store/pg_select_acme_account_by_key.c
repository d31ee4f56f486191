/* Reads the ACME account that holds a key, by the key's thumbprint. */
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_account_by_key(struct store_conn *c, const char *thumbprint,
					       struct store_acme_account *out)
{
	static struct store_stmt st = {
		"select_acme_account_by_key",
		"SELECT " ACME_ACCOUNT_COLS " FROM acme_accounts WHERE key_thumbprint = $1", 0};
	const char *p[] = {thumbprint};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	return store_acme_account_row(res, qs, out);
}
