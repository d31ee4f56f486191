/* Uses an ACME nonce up: one DELETE ... RETURNING, so of any number of
 * orchardd instances racing for it, exactly one gets the row. */
#include <string.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_take_acme_nonce(struct store_conn *c, const char *nonce, bool *fresh)
{
	static struct store_stmt st = {
		"take_acme_nonce",
		"DELETE FROM acme_nonces WHERE nonce = $1 RETURNING expires_at > now()", 0};
	const char *p[] = {nonce};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	*fresh = false;
	if (qs == STORE_ONE)
		*fresh = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return qs;
}
