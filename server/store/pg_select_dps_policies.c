/* Every shared access policy, in name order. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_policy_rows.h"

void store_dps_policy_list_free(struct store_dps_policy_list *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->n; i++)
		store_dps_policy_free(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof *l);
}

enum store_qs store_select_dps_policies(struct store_conn *c, struct store_dps_policy_list *out)
{
	static struct store_stmt st = {"select_dps_policies",
				       "SELECT " DPS_POLICY_COLS " FROM dps_policies ORDER BY name",
				       0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);

	memset(out, 0, sizeof *out);
	if (qs > 0) {
		int n = PQntuples(res);
		out->items = calloc((size_t)n, sizeof *out->items);
		if (out->items == NULL)
			qs = STORE_HARD;
		for (int i = 0; out->items != NULL && i < n; i++) {
			if (dps_policy_from_row(res, i, &out->items[i]) != 0) {
				store_dps_policy_list_free(out);
				qs = STORE_HARD;
				break;
			}
			out->n++;
		}
	}
	PQclear(res);
	return qs;
}
