/* Records an external account binding key an operator created. */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_eab_key(struct store_conn *c, const char *kid, const char *hmac_key,
					const char *created_by)
{
	static struct store_stmt st = {
		"insert_acme_eab_key",
		"INSERT INTO acme_eab_keys (kid, hmac_key, created_by) VALUES ($1, $2, $3)", 0};
	const char *p[] = {kid, hmac_key, created_by};

	return store_exec_void(c, &st, 3, p);
}
