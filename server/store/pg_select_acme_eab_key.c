/* Reads an unspent external account binding key. */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_eab_key(struct store_conn *c, const char *kid, char **hmac_key)
{
	static struct store_stmt st = {
		"select_acme_eab_key",
		"SELECT hmac_key FROM acme_eab_keys WHERE kid = $1 AND used_at IS NULL", 0};
	const char *p[] = {kid};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	*hmac_key = NULL;
	if (qs == STORE_ONE && (*hmac_key = store_value_dup(res, 0, 0, &ok)) == NULL)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
