/* device-attest-01 through an external attestation root: Orchard did not
 * issue the AK certificate, so the device is found by its registration ID
 * (the PermanentIdentifier the certificate carries): its individual
 * enrollment, else the enrollment it registered through. Revoking any AK
 * certificate Orchard issued for it stops this route too. */
#include "server/store/attest.h"
#include "server/store/pg_attest_standing_rows.h"
#include "server/store/store_pg.h"

enum store_qs store_select_attest_ext_standing(struct store_conn *c, const char *registration_id,
					       bool *known, long long *revoked, bool *enabled,
					       char **policy_name, char **policy)
{
	static struct store_stmt st = {
		"select_attest_ext_standing",
		"SELECT (SELECT count(*) FROM attest_ak_certificates r WHERE r.registration_id = $1"
		" AND (SELECT x.revoked_at FROM certificates x WHERE x.serial = r.serial)"
		" IS NOT NULL),"
		" coalesce(e.provisioning_status = 'enabled', false),"
		" e.kind || '/' || e.id, p.policy::text"
		" FROM (SELECT 0 AS o, kind, id FROM dps_enrollments"
		"       WHERE kind = 'individual' AND id = $1"
		"       UNION ALL SELECT 1, enrollment_kind, enrollment_id FROM dps_registrations"
		"       WHERE registration_id = $1 ORDER BY 1 LIMIT 1) d"
		" LEFT JOIN dps_enrollments e ON e.kind = d.kind AND e.id = d.id"
		" LEFT JOIN attest_policies p ON p.enrollment_kind = d.kind"
		" AND p.enrollment_id = d.id",
		0};
	const char *p[] = {registration_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	return store_attest_standing_row(res, qs, known, revoked, enabled, policy_name, policy);
}
