/* The enrollments a device SAS may be signed for, in one round trip: the
 * individual enrollment of the registration ID (first, when there is one)
 * and every symmetric-key enrollment group. */
#include "server/store/dps_rows.h"

enum store_qs store_select_dps_sas_candidates(struct store_conn *c, const char *registration_id,
					      struct store_dps_enrollment_list *out)
{
	static struct store_stmt st = {"select_dps_sas_candidates",
				       "SELECT " DPS_ENROLLMENT_COLS " FROM dps_enrollments"
				       " WHERE (kind = 'individual' AND id = $1)"
				       " OR (kind = 'group' AND attestation_type = 'symmetricKey')"
				       " ORDER BY kind = 'individual' DESC, id",
				       0};
	const char *p[] = {registration_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	qs = dps_enrollment_list_from(res, qs, out);
	PQclear(res);
	return qs;
}
