/* Reads one DPS enrollment; parses and frees enrollment rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_rows.h"

void store_dps_enrollment_free(struct store_dps_enrollment *e)
{
	if (e == NULL)
		return;
	free(e->kind);
	free(e->id);
	free(e->attestation_type);
	if (e->primary_key != NULL)
		explicit_bzero(e->primary_key, strlen(e->primary_key));
	if (e->secondary_key != NULL)
		explicit_bzero(e->secondary_key, strlen(e->secondary_key));
	free(e->primary_key);
	free(e->secondary_key);
	free(e->provisioning_status);
	free(e->device_id);
	free(e->iot_hub_host_name);
	free(e->initial_twin_json);
	free(e->capabilities_json);
	free(e->etag);
	free(e->attestation_params_json);
	free(e->allocation_json);
	memset(e, 0, sizeof *e);
}

int dps_enrollment_from_row(const PGresult *res, int row, struct store_dps_enrollment *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->kind = store_value_dup(res, row, 0, &ok);
	out->id = store_value_dup(res, row, 1, &ok);
	out->attestation_type = store_value_dup(res, row, 2, &ok);
	out->primary_key = store_value_dup(res, row, 3, &ok);
	out->secondary_key = store_value_dup(res, row, 4, &ok);
	out->provisioning_status = store_value_dup(res, row, 5, &ok);
	out->device_id = store_value_dup(res, row, 6, &ok);
	out->iot_hub_host_name = store_value_dup(res, row, 7, &ok);
	out->initial_twin_json = store_value_dup(res, row, 8, &ok);
	out->capabilities_json = store_value_dup(res, row, 9, &ok);
	out->etag = store_value_dup(res, row, 10, &ok);
	out->created_at = store_value_ll(res, row, 11);
	out->updated_at = store_value_ll(res, row, 12);
	out->attestation_params_json = store_value_dup(res, row, 13, &ok);
	out->allocation_json = store_value_dup(res, row, 14, &ok);
	if (!ok) {
		store_dps_enrollment_free(out);
		return -1;
	}
	return 0;
}

enum store_qs store_select_dps_enrollment(struct store_conn *c, const char *kind, const char *id,
					  struct store_dps_enrollment *out)
{
	static struct store_stmt st = {"select_dps_enrollment",
				       "SELECT " DPS_ENROLLMENT_COLS
				       " FROM dps_enrollments WHERE kind = $1 AND id = $2",
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
