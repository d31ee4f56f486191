/* device-attest-01: whether an AK certificate may still vouch for a key:
 * issued here, no AK certificate of its TPM revoked, its enrollment
 * enabled; and the quote gate's policy of that enrollment. */
#include "server/store/attest.h"
#include "server/store/pg_attest_standing_rows.h"
#include "server/store/store_pg.h"

enum store_qs store_select_attest_ak_standing(struct store_conn *c, const char *serial, bool *known,
					      long long *revoked, bool *enabled, char **policy_name,
					      char **policy)
{
	static struct store_stmt st = {
		"select_attest_ak_standing",
		"SELECT (SELECT count(*) FROM attest_ak_certificates r WHERE r.ek_hash = a.ek_hash"
		" AND (SELECT x.revoked_at FROM certificates x WHERE x.serial = r.serial)"
		" IS NOT NULL),"
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

	return store_attest_standing_row(res, qs, known, revoked, enabled, policy_name, policy);
}
