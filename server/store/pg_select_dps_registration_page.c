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

static int registration_row(const PGresult *res, int row, void *out)
{
	return dps_registration_from_row(res, row, out);
}

static void registration_free(void *row)
{
	store_dps_registration_free(row);
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
	void *items = NULL;
	enum store_qs qs;
	PGresult *res;

	snprintf(lim, sizeof lim, "%d", limit);
	res = store_exec(c, &st, 3, p, &qs);
	qs = dps_rows_from(res, qs, sizeof *out->items, &items, &out->n, registration_row,
			   registration_free);
	out->items = items;
	PQclear(res);
	return qs;
}
