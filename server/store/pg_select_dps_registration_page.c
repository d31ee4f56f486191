/* One page of the registration states of an enrollment group's devices,
 * in registration ID order after a given one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_rows.h"

void store_dps_registration_list_free(struct store_dps_registration_list *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->n; i++)
		store_dps_registration_free(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof *l);
}

enum store_qs store_select_dps_registration_page(struct store_conn *c, const char *group_id,
						 const char *after, int limit,
						 struct store_dps_registration_list *out)
{
	static struct store_stmt st = {
		"select_dps_registration_page",
		"SELECT " DPS_REGISTRATION_COLS " FROM dps_registrations"
		" WHERE enrollment_kind = 'group' AND enrollment_id = $1 AND registration_id > $2"
		" ORDER BY registration_id LIMIT $3::integer",
		0};
	char lim[16];
	const char *p[] = {group_id, after, lim};
	enum store_qs qs;
	PGresult *res;

	snprintf(lim, sizeof lim, "%d", limit);
	res = store_exec(c, &st, 3, p, &qs);
	memset(out, 0, sizeof *out);
	if (qs > 0) {
		out->items = calloc((size_t)qs, sizeof *out->items);
		if (out->items == NULL)
			qs = STORE_HARD;
		for (int i = 0; out->items != NULL && i < (int)qs; i++) {
			if (dps_registration_from_row(res, i, &out->items[i]) != 0) {
				store_dps_registration_list_free(out);
				qs = STORE_HARD;
				break;
			}
			out->n = i + 1;
		}
	}
	PQclear(res);
	return qs;
}
