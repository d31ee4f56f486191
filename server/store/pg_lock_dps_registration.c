/* Reads a device's registration state FOR UPDATE, so that registrations
 * of one registration ID take turns deciding its assignment. */
#include <string.h>

#include "server/store/dps_rows.h"

enum store_qs store_lock_dps_registration(struct store_conn *c, const char *registration_id,
					  struct store_dps_registration *out)
{
	static struct store_stmt st = {
		"lock_dps_registration",
		"SELECT " DPS_REGISTRATION_COLS
		" FROM dps_registrations WHERE registration_id = $1 FOR UPDATE",
		0};
	const char *p[] = {registration_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && dps_registration_from_row(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
