/* Deletes a device's DPS registration state whose etag matches (or any,
 * without one) and announces it in the same statement. */
#include "server/store/dps_rows.h"
#include "server/store/events.h"

enum store_qs store_delete_dps_registration(struct store_conn *c, const char *registration_id,
					    const char *etag)
{
	static struct store_stmt st = {
		"delete_dps_registration",
		"WITH d AS (DELETE FROM dps_registrations WHERE registration_id = $1"
		" AND ($2::text IS NULL OR $2 = '*' OR etag = $2) RETURNING registration_id)"
		" SELECT pg_notify('" EVENTS_DPS_REGISTRATION "', registration_id) FROM d",
		0};
	const char *p[] = {registration_id, etag};

	return store_exec_void(c, &st, 2, p);
}
