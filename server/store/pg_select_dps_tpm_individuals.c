/* The individual TPM enrollments that may pin a given EK, found by the EK
 * (an expression index) or by the registration ID derived from it. */
#include "server/store/attest.h"
#include "server/store/dps_rows.h"

enum store_qs store_select_dps_tpm_individuals(struct store_conn *c, const char *ek_b64,
					       const char *derived_id,
					       struct store_dps_enrollment_list *out)
{
	static struct store_stmt st = {
		"select_dps_tpm_individuals",
		"SELECT " DPS_ENROLLMENT_COLS " FROM dps_enrollments"
		" WHERE kind = 'individual' AND attestation_type = 'tpm'"
		" AND (attestation_params ->> 'endorsementKey' = $1 OR id = $2) ORDER BY id LIMIT 16",
		0};
	const char *p[] = {ek_b64, derived_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 2, p, &qs);

	qs = dps_enrollment_list_from(res, qs, out);
	PQclear(res);
	return qs;
}
