/* Creates a shared access policy with its keys, or sets the rights of an
 * existing one (its keys kept). */
#include <string.h>

#include "server/store/dps_policy_rows.h"

enum store_qs store_upsert_dps_policy(struct store_conn *c, const struct store_dps_policy *p,
				      bool *created, struct store_dps_policy *out)
{
	static struct store_stmt st = {
		"upsert_dps_policy",
		"INSERT INTO dps_policies (name, rights, primary_key, secondary_key)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE"
		" SET rights = EXCLUDED.rights, updated_at = now()"
		" RETURNING " DPS_POLICY_COLS ", xmax = 0",
		0};
	const char *params[] = {p->name, p->rights, p->primary_key, p->secondary_key};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 4, params, &qs);

	memset(out, 0, sizeof *out);
	*created = false;
	if (qs == STORE_ONE)
		*created = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
	qs = dps_policy_one_from(res, qs, out);
	PQclear(res);
	return qs;
}
