/* An authorization read by POST-as-GET or deactivated, with its signer's
 * account and nonce in the same statement (ACME_LATE): one round trip
 * where the kid check and the read were two. */
#include <string.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_take_acme_nonce_authz(struct store_conn *c, const char *id,
					  struct store_acme_late *late,
					  struct store_acme_authz *out)
{
	static struct store_stmt st = {"take_acme_nonce_authz", ACME_LATE_SQL(ACME_AUTHZ_SELECT),
				       0};
	enum store_qs qs;
	PGresult *res = store_acme_late_exec(c, &st, id, late, &qs);

	memset(out, 0, sizeof *out);
	if (res != NULL && store_acme_authz_fill(res, ACME_LATE_COL, out) != 0) {
		store_acme_account_free(late->account);
		qs = STORE_HARD;
	}
	PQclear(res);
	return qs;
}
