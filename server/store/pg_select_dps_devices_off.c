/* The devices an enrollment registered, once it is disabled or deleted:
 * the MQTT backend ends their connections (server/mqtt_kick.c). */
#include "server/store/dps.h"
#include "server/store/store_pg.h"

enum store_qs store_select_dps_devices_off(struct store_conn *c, const char *kind, const char *id,
					   void (*each)(void *cls, const char *device_id),
					   void *cls)
{
	static struct store_stmt st = {
		"select_dps_devices_off",
		"SELECT device_id FROM dps_registrations WHERE enrollment_kind = $1"
		" AND enrollment_id = $2 AND status = 'assigned' AND NOT EXISTS (SELECT 1"
		" FROM dps_enrollments WHERE kind = $1 AND id = $2 AND provisioning_status = 'enabled')",
		0};
	const char *p[] = {kind, id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 2, p, &qs);

	for (int i = 0; i < (int)qs; i++)
		each(cls, PQgetvalue(res, i, 0));
	PQclear(res);
	return qs;
}
