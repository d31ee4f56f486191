/* Reads what a device's IoT Hub credential is checked against: its DPS
 * registration (by device ID) and the enrollment that registered it, keys
 * included, in one round trip. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_rows.h"
#include "server/store/twins.h"

void store_hub_device_free(struct store_hub_device *d)
{
	if (d == NULL)
		return;
	store_dps_enrollment_free(&d->enrollment);
	free(d->registration_id);
	free(d->status);
	if (d->device_key != NULL)
		explicit_bzero(d->device_key, strlen(d->device_key));
	free(d->device_key);
	memset(d, 0, sizeof *d);
}

enum store_qs store_select_hub_device(struct store_conn *c, const char *device_id,
				      struct store_hub_device *out)
{
	static struct store_stmt st = {
		"select_hub_device",
		"SELECT e.*, r.registration_id, r.status, r.device_key FROM dps_registrations r,"
		" LATERAL (SELECT " DPS_ENROLLMENT_COLS " FROM dps_enrollments"
		" WHERE kind = r.enrollment_kind AND id = r.enrollment_id) e"
		" WHERE r.device_id = $1",
		0};
	const char *p[] = {device_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE) {
		int n = PQnfields(res);
		if (dps_enrollment_from_row(res, 0, &out->enrollment) != 0)
			ok = 0;
		out->registration_id = store_value_dup(res, 0, n - 3, &ok);
		out->status = store_value_dup(res, 0, n - 2, &ok);
		out->device_key = store_value_dup(res, 0, n - 1, &ok);
		if (!ok) {
			store_hub_device_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
