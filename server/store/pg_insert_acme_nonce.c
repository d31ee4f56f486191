/* Records an issued ACME nonce with its expiry on the database's clock. */
#include <stdio.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_nonce(struct store_conn *c, const char *nonce, int ttl_s)
{
	static struct store_stmt st = {"insert_acme_nonce",
				       "INSERT INTO acme_nonces (nonce, expires_at)"
				       " VALUES ($1, now() + make_interval(secs => $2::int))",
				       0};
	char ttl[16];
	const char *p[] = {nonce, ttl};

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	return store_exec_void(c, &st, 2, p);
}
