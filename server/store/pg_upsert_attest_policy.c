/* Sets the quote gate's policy of one enrollment. */
#include "server/store/attest.h"
#include "server/store/store_pg.h"

enum store_qs store_upsert_attest_policy(struct store_conn *c, const char *kind, const char *id,
					 const char *policy)
{
	static struct store_stmt st = {
		"upsert_attest_policy",
		"INSERT INTO attest_policies (enrollment_kind, enrollment_id, policy)"
		" VALUES ($1, $2, $3::jsonb) ON CONFLICT (enrollment_kind, enrollment_id)"
		" DO UPDATE SET policy = excluded.policy, updated_at = now()",
		0};
	const char *p[] = {kind, id, policy};

	return store_exec_void(c, &st, 3, p);
}
