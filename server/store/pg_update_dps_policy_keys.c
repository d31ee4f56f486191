/* Rotates a shared access policy's keys: each one given replaces its own. */
#include <string.h>

#include "server/store/dps_policy_rows.h"

enum store_qs store_update_dps_policy_keys(struct store_conn *c, const char *name,
					   const char *primary_key, const char *secondary_key,
					   struct store_dps_policy *out)
{
	static struct store_stmt st = {
		"update_dps_policy_keys",
		"UPDATE dps_policies SET primary_key = COALESCE($2, primary_key),"
		" secondary_key = COALESCE($3, secondary_key), updated_at = now()"
		" WHERE name = $1 RETURNING " DPS_POLICY_COLS,
		0};
	const char *p[] = {name, primary_key, secondary_key};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 3, p, &qs);

	memset(out, 0, sizeof *out);
	qs = dps_policy_one_from(res, qs, out);
	PQclear(res);
	return qs;
}
