/* Lists the TPM enrollment groups whose manufacturer roots a device's EK
 * certificate may chain to. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_rows.h"

enum store_qs store_select_dps_groups_tpm(struct store_conn *c,
					  struct store_dps_enrollment_list *out)
{
	static struct store_stmt st = {"select_dps_groups_tpm",
				       "SELECT " DPS_ENROLLMENT_COLS
				       " FROM dps_enrollments WHERE kind = 'group'"
				       " AND attestation_type = 'tpm' ORDER BY id",
				       0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);

	memset(out, 0, sizeof *out);
	if (qs > 0) {
		out->items = calloc((size_t)qs, sizeof *out->items);
		if (out->items == NULL)
			qs = STORE_HARD;
		for (int i = 0; out->items != NULL && i < (int)qs; i++) {
			if (dps_enrollment_from_row(res, i, &out->items[i]) != 0) {
				store_dps_enrollment_list_free(out);
				qs = STORE_HARD;
				break;
			}
			out->n = i + 1;
		}
	}
	PQclear(res);
	return qs;
}
