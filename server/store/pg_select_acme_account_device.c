/* The device an ACME account is bound to: the permanent identifier of its
 * first authorization that device-attest-01 proved. */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_account_device(struct store_conn *c, const char *account,
					       char **device)
{
	static struct store_stmt st = {
		"select_acme_account_device",
		"SELECT identifier_value FROM acme_authzs WHERE account_id = $1 AND status = 'valid'"
		" AND identifier_type = 'permanent-identifier' AND attested_ak_serial IS NOT NULL"
		" ORDER BY updated_at LIMIT 1",
		0};
	const char *p[] = {account};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	*device = NULL;
	if (qs == STORE_ONE && (*device = store_value_dup(res, 0, 0, &ok)) == NULL)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
