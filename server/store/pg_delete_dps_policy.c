/* Deletes a shared access policy: SAS tokens signed with its keys stop
 * working at once (every request looks the policy up). */
#include "server/store/dps_policy_rows.h"

enum store_qs store_delete_dps_policy(struct store_conn *c, const char *name)
{
	static struct store_stmt st = {
		"delete_dps_policy", "DELETE FROM dps_policies WHERE name = $1 RETURNING name", 0};
	const char *p[] = {name};

	return store_exec_void(c, &st, 1, p);
}
