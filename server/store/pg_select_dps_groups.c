/* Lists the enrollment groups of one attestation type: those a device's
 * key may be derived from, its EK certificate or its client certificate
 * chain to. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_rows.h"

void store_dps_enrollment_list_free(struct store_dps_enrollment_list *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->n; i++)
		store_dps_enrollment_free(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof *l);
}

enum store_qs dps_enrollment_list_from(const PGresult *res, enum store_qs qs,
				       struct store_dps_enrollment_list *out)
{
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
	return qs;
}

enum store_qs store_select_dps_groups(struct store_conn *c, const char *attestation_type,
				      struct store_dps_enrollment_list *out)
{
	static struct store_stmt st = {"select_dps_groups",
				       "SELECT " DPS_ENROLLMENT_COLS
				       " FROM dps_enrollments WHERE kind = 'group'"
				       " AND attestation_type = $1 ORDER BY id",
				       0};
	const char *p[] = {attestation_type};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	qs = dps_enrollment_list_from(res, qs, out);
	PQclear(res);
	return qs;
}
