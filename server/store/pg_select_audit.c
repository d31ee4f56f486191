/* The audit trail newest first, in pages before a keyset cursor. */
#include <stdio.h>

#include "server/store/pg_audit_rows.h"

enum store_qs store_select_audit(struct store_conn *c, long long before, int limit,
				 struct store_audit_page *out)
{
	static struct store_stmt st = {
		"select_audit",
		"SELECT " STORE_AUDIT_COLUMNS " FROM audit_log"
		" WHERE $1::bigint = 0 OR id < $1::bigint ORDER BY id DESC LIMIT $2",
		0};
	char b[24], l[12];
	const char *p[] = {b, l};
	enum store_qs qs;
	PGresult *res;

	snprintf(b, sizeof b, "%lld", before);
	snprintf(l, sizeof l, "%d", limit);
	res = store_exec(c, &st, 2, p, &qs);
	return store_audit_rows(res, qs, out);
}
