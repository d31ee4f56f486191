/* One shared access policy by name, and the row parsing every policy
 * query shares. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_policies.h"
#include "server/store/dps_policy_rows.h"

void store_dps_policy_free(struct store_dps_policy *p)
{
	if (p == NULL)
		return;
	if (p->primary_key != NULL)
		explicit_bzero(p->primary_key, strlen(p->primary_key));
	if (p->secondary_key != NULL)
		explicit_bzero(p->secondary_key, strlen(p->secondary_key));
	free(p->name);
	free(p->rights);
	free(p->primary_key);
	free(p->secondary_key);
	memset(p, 0, sizeof *p);
}

int dps_policy_from_row(const PGresult *res, int row, struct store_dps_policy *out)
{
	int ok = 1;

	memset(out, 0, sizeof *out);
	out->name = store_value_dup(res, row, 0, &ok);
	out->rights = store_value_dup(res, row, 1, &ok);
	out->primary_key = store_value_dup(res, row, 2, &ok);
	out->secondary_key = store_value_dup(res, row, 3, &ok);
	out->created_at = store_value_ll(res, row, 4);
	out->updated_at = store_value_ll(res, row, 5);
	if (!ok) {
		store_dps_policy_free(out);
		return -1;
	}
	return 0;
}

enum store_qs dps_policy_one_from(const PGresult *res, enum store_qs qs,
				  struct store_dps_policy *out)
{
	if (qs == STORE_ONE && dps_policy_from_row(res, 0, out) != 0)
		return STORE_HARD;
	return qs;
}

enum store_qs store_select_dps_policy(struct store_conn *c, const char *name,
				      struct store_dps_policy *out)
{
	static struct store_stmt st = {
		"select_dps_policy", "SELECT " DPS_POLICY_COLS " FROM dps_policies WHERE name = $1",
		0};
	const char *p[] = {name};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	memset(out, 0, sizeof *out);
	qs = dps_policy_one_from(res, qs, out);
	PQclear(res);
	return qs;
}
