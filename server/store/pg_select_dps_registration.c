/* Reads one device's DPS registration state; parses and frees such rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_rows.h"

void store_dps_registration_free(struct store_dps_registration *r)
{
	if (r == NULL)
		return;
	free(r->registration_id);
	free(r->device_id);
	free(r->enrollment_kind);
	free(r->enrollment_id);
	free(r->status);
	free(r->substatus);
	free(r->assigned_hub);
	free(r->operation_id);
	free(r->etag);
	free(r->payload_json);
	free(r->error_message);
	free(r->tpm_authentication_key);
	if (r->device_key != NULL)
		explicit_bzero(r->device_key, strlen(r->device_key));
	free(r->device_key);
	free(r->issued_chain_json);
	memset(r, 0, sizeof *r);
}

int dps_registration_from_row(const PGresult *res, int row, struct store_dps_registration *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->registration_id = store_value_dup(res, row, 0, &ok);
	out->device_id = store_value_dup(res, row, 1, &ok);
	out->enrollment_kind = store_value_dup(res, row, 2, &ok);
	out->enrollment_id = store_value_dup(res, row, 3, &ok);
	out->status = store_value_dup(res, row, 4, &ok);
	out->substatus = store_value_dup(res, row, 5, &ok);
	out->assigned_hub = store_value_dup(res, row, 6, &ok);
	out->operation_id = store_value_dup(res, row, 7, &ok);
	out->etag = store_value_dup(res, row, 8, &ok);
	out->payload_json = store_value_dup(res, row, 9, &ok);
	out->error_code = (int)store_value_ll(res, row, 10);
	out->error_message = store_value_dup(res, row, 11, &ok);
	out->created_at = store_value_ll(res, row, 12);
	out->updated_at = store_value_ll(res, row, 13);
	out->tpm_authentication_key = store_value_dup(res, row, 14, &ok);
	out->device_key = store_value_dup(res, row, 15, &ok);
	out->issued_chain_json = store_value_dup(res, row, 16, &ok);
	if (!ok) {
		store_dps_registration_free(out);
		return -1;
	}
	return 0;
}

enum store_qs store_select_dps_registration(struct store_conn *c, const char *registration_id,
					    struct store_dps_registration *out)
{
	static struct store_stmt st = {"select_dps_registration",
				       "SELECT " DPS_REGISTRATION_COLS
				       " FROM dps_registrations WHERE registration_id = $1",
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
