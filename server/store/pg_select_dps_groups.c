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

enum store_qs dps_rows_from(const PGresult *res, enum store_qs qs, size_t size, void **items,
			    int *n, int (*from_row)(const PGresult *res, int row, void *out),
			    void (*free_row)(void *row))
{
	char *all = NULL;

	*items = NULL;
	*n = 0;
	if (qs <= 0)
		return qs;
	if ((all = calloc((size_t)qs, size)) == NULL)
		return STORE_HARD;
	for (int i = 0; i < (int)qs; i++) {
		if (from_row(res, i, all + (size_t)i * size) != 0) {
			for (int j = 0; j < i; j++)
				free_row(all + (size_t)j * size);
			free(all);
			return STORE_HARD;
		}
	}
	*items = all;
	*n = (int)qs;
	return qs;
}

static int enrollment_row(const PGresult *res, int row, void *out)
{
	return dps_enrollment_from_row(res, row, out);
}

static void enrollment_free(void *row)
{
	store_dps_enrollment_free(row);
}

enum store_qs dps_enrollment_list_from(const PGresult *res, enum store_qs qs,
				       struct store_dps_enrollment_list *out)
{
	void *items = NULL;

	qs = dps_rows_from(res, qs, sizeof *out->items, &items, &out->n, enrollment_row,
			   enrollment_free);
	out->items = items;
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
