/* A certificate downloaded through ACME, with its signer's account and
 * nonce in the same statement (ACME_LATE): one round trip where the kid
 * check and the read were two. Only what the download needs: the ordering
 * account and the DER. */
#include <stdlib.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_take_acme_nonce_cert(struct store_conn *c, const char *serial,
					 struct store_acme_late *late, char **account_id,
					 char **der_b64)
{
	static struct store_stmt st = {
		"take_acme_nonce_cert",
		ACME_LATE_SQL(
			"SELECT x.acme_account_id, encode(x.der, 'base64') FROM certificates x"
			" WHERE x.serial = $1"),
		0};
	enum store_qs qs;
	PGresult *res = store_acme_late_exec(c, &st, serial, late, &qs);
	int ok = 1;

	*account_id = *der_b64 = NULL;
	if (res != NULL) {
		*account_id = store_value_dup(res, 0, ACME_LATE_COL, &ok);
		*der_b64 = store_value_dup(res, 0, ACME_LATE_COL + 1, &ok);
		if (!ok || *der_b64 == NULL) {
			free(*account_id);
			free(*der_b64);
			*account_id = *der_b64 = NULL;
			store_acme_account_free(late->account);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
