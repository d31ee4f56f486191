/* The quote gate's policy of one enrollment, as JSON text. */
#include "server/store/attest.h"
#include "server/store/store_pg.h"

enum store_qs store_select_attest_policy(struct store_conn *c, const char *kind, const char *id,
					 char **policy)
{
	static struct store_stmt st = {
		"select_attest_policy",
		"SELECT policy::text FROM attest_policies WHERE enrollment_kind = $1"
		" AND enrollment_id = $2",
		0};
	const char *p[] = {kind, id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 2, p, &qs);
	int ok = 1;

	*policy = NULL;
	if (qs == STORE_ONE && (*policy = store_value_dup(res, 0, 0, &ok)) == NULL)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
