/* Counts the revoked AK certificates of one EK: any stops its issuance. */
#include <stdlib.h>

#include "server/store/attest.h"
#include "server/store/store_pg.h"

enum store_qs store_count_attest_revoked(struct store_conn *c, const char *ek_hash, long long *n)
{
	static struct store_stmt st = {
		"count_attest_revoked",
		"SELECT count(*) FROM attest_ak_certificates a JOIN certificates c USING (serial)"
		" WHERE a.ek_hash = $1 AND c.revoked_at IS NOT NULL",
		0};
	const char *p[] = {ek_hash};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	*n = 0;
	if (qs == STORE_ONE)
		*n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return qs;
}
