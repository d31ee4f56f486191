/* Reads one DPS enrollment FOR UPDATE: a conditional replace (If-Match)
 * decides on a row no other writer can change meanwhile. */
#include <string.h>

#include "server/store/dps_rows.h"

enum store_qs store_lock_dps_enrollment(struct store_conn *c, const char *kind, const char *id,
					struct store_dps_enrollment *out)
{
	static struct store_stmt st = {
		"lock_dps_enrollment",
		"SELECT " DPS_ENROLLMENT_COLS
		" FROM dps_enrollments WHERE kind = $1 AND id = $2 FOR UPDATE",
		0};
	const char *p[] = {kind, id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 2, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && dps_enrollment_from_row(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
