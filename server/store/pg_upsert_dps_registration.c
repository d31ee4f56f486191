/* Records a device's registration: one row per registration ID, however
 * many requests race (ON CONFLICT updates in place). Announced on
 * EVENTS_DPS_REGISTRATION only while it is assigning (custom allocation:
 * pollers may wait for its end): PostgreSQL's NOTIFY takes one
 * database-wide lock from pre-commit through the WAL flush, so notifying
 * transactions never share an fsync (measured in bench/dps.sh: 1.00 WAL
 * syncs a registration and 460 registrations/s with it, 0.60 and 750-930/s
 * without). A registration that ends in this statement has no waiter. */
#include <stdio.h>

#include "server/store/dps_rows.h"
#include "server/store/events.h"

enum store_qs store_upsert_dps_registration(struct store_conn *c,
					    const struct store_dps_registration *r,
					    struct store_dps_registration *out)
{
	static struct store_stmt st = {
		"upsert_dps_registration",
		"WITH u AS (INSERT INTO dps_registrations (registration_id, device_id,"
		" enrollment_kind, enrollment_id, status, substatus, assigned_hub, operation_id,"
		" etag, payload, error_code, error_message, tpm_authentication_key, device_key,"
		" issued_certificate_chain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb,"
		" $11::integer, $12, $13, $14, $15::jsonb)"
		" ON CONFLICT (registration_id) DO UPDATE SET device_id = EXCLUDED.device_id,"
		" enrollment_kind = EXCLUDED.enrollment_kind, enrollment_id = EXCLUDED.enrollment_id,"
		" status = EXCLUDED.status, substatus = EXCLUDED.substatus,"
		" assigned_hub = EXCLUDED.assigned_hub, operation_id = EXCLUDED.operation_id,"
		" etag = EXCLUDED.etag, payload = EXCLUDED.payload, error_code = EXCLUDED.error_code,"
		" error_message = EXCLUDED.error_message,"
		" tpm_authentication_key = EXCLUDED.tpm_authentication_key,"
		" device_key = EXCLUDED.device_key,"
		" issued_certificate_chain = EXCLUDED.issued_certificate_chain, updated_at = now()"
		" RETURNING " DPS_REGISTRATION_COLS ")"
		" SELECT *, CASE WHEN status = 'assigning' THEN"
		" pg_notify('" EVENTS_DPS_REGISTRATION "', registration_id) END FROM u",
		0};
	char code[16];
	const char *p[] = {r->registration_id,
			   r->device_id,
			   r->enrollment_kind,
			   r->enrollment_id,
			   r->status,
			   r->substatus,
			   r->assigned_hub,
			   r->operation_id,
			   r->etag,
			   r->payload_json,
			   r->error_code ? code : NULL,
			   r->error_message,
			   r->tpm_authentication_key,
			   r->device_key,
			   r->issued_chain_json};
	enum store_qs qs;
	PGresult *res;

	snprintf(code, sizeof code, "%d", r->error_code);
	res = store_exec(c, &st, 15, p, &qs);
	if (qs == STORE_ONE && dps_registration_from_row(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
