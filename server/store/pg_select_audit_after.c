/* The audit entries after one a watcher has seen, oldest first, for
 * long-polls and streams that must miss nothing. */
#include <stdio.h>

#include "server/store/pg_audit_rows.h"

enum store_qs store_select_audit_after(struct store_conn *c, long long after_id, int limit,
				       struct store_audit_page *out)
{
	static struct store_stmt st = {"select_audit_after",
				       "SELECT " STORE_AUDIT_COLUMNS " FROM audit_log"
				       " WHERE id > $1::bigint ORDER BY id LIMIT $2",
				       0};
	char a[24], l[12];
	const char *p[] = {a, l};
	enum store_qs qs;
	PGresult *res;

	snprintf(a, sizeof a, "%lld", after_id);
	snprintf(l, sizeof l, "%d", limit);
	res = store_exec(c, &st, 2, p, &qs);
	return store_audit_rows(res, qs, out);
}
