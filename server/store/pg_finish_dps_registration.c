/* Ends an assigning registration (a custom allocation's outcome): only the
 * operation that is still assigning is changed, and the change is
 * announced on EVENTS_DPS_REGISTRATION in the same statement. */
#include <stdio.h>

#include "server/store/dps_rows.h"
#include "server/store/events.h"

enum store_qs store_finish_dps_registration(struct store_conn *c,
					    const struct store_dps_registration *r,
					    struct store_dps_registration *out)
{
	static struct store_stmt st = {
		"finish_dps_registration",
		"WITH u AS (UPDATE dps_registrations SET status = $3, substatus = $4,"
		" assigned_hub = $5, payload = $6::jsonb, error_code = $7::integer,"
		" error_message = $8, etag = $9, updated_at = now()"
		" WHERE registration_id = $1 AND operation_id = $2 AND status = 'assigning'"
		" RETURNING " DPS_REGISTRATION_COLS ")"
		" SELECT *, pg_notify('" EVENTS_DPS_REGISTRATION "', registration_id) FROM u",
		0};
	char code[16];
	const char *p[] = {r->registration_id,
			   r->operation_id,
			   r->status,
			   r->substatus,
			   r->assigned_hub,
			   r->payload_json,
			   r->error_code ? code : NULL,
			   r->error_message,
			   r->etag};
	enum store_qs qs;
	PGresult *res;

	snprintf(code, sizeof code, "%d", r->error_code);
	res = store_exec(c, &st, 9, p, &qs);
	if (qs == STORE_ONE && dps_registration_from_row(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
