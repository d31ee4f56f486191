/* Spends an external account binding key on an account: of two accounts
 * racing for one key, exactly one binds it. */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_bind_acme_eab_key(struct store_conn *c, const char *kid, const char *account)
{
	static struct store_stmt st = {"bind_acme_eab_key",
				       "UPDATE acme_eab_keys SET used_at = now(), account_id = $2"
				       " WHERE kid = $1 AND used_at IS NULL RETURNING kid",
				       0};
	const char *p[] = {kid, account};

	return store_exec_void(c, &st, 2, p);
}
