/* device-attest-01: whether an AK certificate may still vouch for a key:
 * issued here, no AK certificate of its TPM revoked, its enrollment
 * enabled; and the quote gate's policy of that enrollment. */
#include <stdlib.h>
#include <string.h>

#include "server/store/attest.h"
#include "server/store/store_pg.h"

enum store_qs store_select_attest_ak_standing(struct store_conn *c, const char *serial, bool *known,
					      long long *revoked, bool *enabled, char **policy_name,
					      char **policy)
{
	static struct store_stmt st = {
		"select_attest_ak_standing",
		"SELECT (SELECT count(*) FROM attest_ak_certificates r JOIN certificates x"
		" USING (serial) WHERE r.ek_hash = a.ek_hash AND x.revoked_at IS NOT NULL),"
		" coalesce(e.provisioning_status = 'enabled', false),"
		" a.enrollment_kind || '/' || a.enrollment_id, p.policy::text"
		" FROM attest_ak_certificates a LEFT JOIN dps_enrollments e"
		" ON e.kind = a.enrollment_kind AND e.id = a.enrollment_id"
		" LEFT JOIN attest_policies p ON p.enrollment_kind = a.enrollment_kind"
		" AND p.enrollment_id = a.enrollment_id WHERE a.serial = $1",
		0};
	const char *p[] = {serial};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	*known = qs == STORE_ONE;
	*revoked = 0;
	*enabled = false;
	*policy_name = *policy = NULL;
	if (qs == STORE_ONE) {
		int ok = 1;
		*revoked = store_value_ll(res, 0, 0);
		*enabled = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		*policy_name = store_value_dup(res, 0, 2, &ok);
		*policy = store_value_dup(res, 0, 3, &ok);
		if (!ok) {
			free(*policy_name);
			free(*policy);
			*policy_name = *policy = NULL;
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
