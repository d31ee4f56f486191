/* Deletes a DPS enrollment whose etag matches (or any, without one) and
 * announces it in the same statement. */
#include "server/store/dps_rows.h"
#include "server/store/events.h"

enum store_qs store_delete_dps_enrollment(struct store_conn *c, const char *kind, const char *id,
					  const char *etag)
{
	static struct store_stmt st = {
		"delete_dps_enrollment",
		"WITH d AS (DELETE FROM dps_enrollments WHERE kind = $1 AND id = $2"
		" AND ($3::text IS NULL OR $3 = '*' OR etag = $3) RETURNING kind, id)"
		" SELECT pg_notify('" EVENTS_DPS_ENROLLMENT "', kind || ' ' || id) FROM d",
		0};
	const char *p[] = {kind, id, etag};

	return store_exec_void(c, &st, 3, p);
}
