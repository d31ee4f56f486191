/* Deletes expired ACME nonces (a cheap periodic sweep on the expiry index). */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_purge_acme_nonces(struct store_conn *c)
{
	static struct store_stmt st = {"purge_acme_nonces",
				       "DELETE FROM acme_nonces WHERE expires_at < now()", 0};

	return store_exec_void(c, &st, 0, NULL);
}
