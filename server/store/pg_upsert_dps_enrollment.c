/* Creates or replaces a DPS enrollment and announces it in the same
 * statement. */
#include "server/store/dps_rows.h"
#include "server/store/events.h"

enum store_qs store_upsert_dps_enrollment(struct store_conn *c,
					  const struct store_dps_enrollment *e, long long *created,
					  long long *updated)
{
	static struct store_stmt st = {
		"upsert_dps_enrollment",
		"WITH u AS (INSERT INTO dps_enrollments (kind, id, attestation_type, primary_key,"
		" secondary_key, provisioning_status, device_id, iot_hub_host_name, initial_twin,"
		" capabilities, etag, attestation_params, allocation)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12::jsonb,"
		" $13::jsonb)"
		" ON CONFLICT (kind, id) DO UPDATE SET attestation_type = EXCLUDED.attestation_type,"
		" primary_key = EXCLUDED.primary_key, secondary_key = EXCLUDED.secondary_key,"
		" provisioning_status = EXCLUDED.provisioning_status, device_id = EXCLUDED.device_id,"
		" iot_hub_host_name = EXCLUDED.iot_hub_host_name, initial_twin = EXCLUDED.initial_twin,"
		" capabilities = EXCLUDED.capabilities, etag = EXCLUDED.etag,"
		" attestation_params = EXCLUDED.attestation_params, allocation = EXCLUDED.allocation,"
		" updated_at = now()"
		" RETURNING created_at, updated_at)"
		" SELECT " STORE_EPOCH("created_at") ", " STORE_EPOCH(
			"updated_at") ", pg_notify('" EVENTS_DPS_ENROLLMENT
				      "', $1 || ' ' || $2) FROM u",
		0};
	const char *p[] = {e->kind,
			   e->id,
			   e->attestation_type,
			   e->primary_key,
			   e->secondary_key,
			   e->provisioning_status,
			   e->device_id,
			   e->iot_hub_host_name,
			   e->initial_twin_json,
			   e->capabilities_json,
			   e->etag,
			   e->attestation_params_json,
			   e->allocation_json};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 13, p, &qs);

	if (qs == STORE_ONE) {
		*created = store_value_ll(res, 0, 0);
		*updated = store_value_ll(res, 0, 1);
	}
	PQclear(res);
	return qs;
}
