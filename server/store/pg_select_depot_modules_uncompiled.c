/* Modules of published packages with no finished compiled form for a
 * target (none, or one left "compiling" by a process that stopped):
 * what orchardd queues again when it starts. */
#include <stdlib.h>
#include <string.h>

#include "server/store/depot_compiled.h"
#include "server/store/store_pg.h"

enum store_qs store_select_depot_modules_uncompiled(struct store_conn *c, const char *target,
						    long limit, char (**out)[65], size_t *n)
{
	static struct store_stmt st = {
		"select_depot_modules_uncompiled",
		"SELECT m.sha256 FROM depot_modules m"
		" WHERE EXISTS (SELECT 1 FROM depot_packages p WHERE p.module_sha256 = m.sha256)"
		" AND NOT EXISTS (SELECT 1 FROM depot_compiled d WHERE d.module_sha256 = m.sha256"
		" AND d.target = $1 AND d.state <> 'compiling')"
		" ORDER BY m.created_at LIMIT $2::bigint",
		0};
	char lim[24];
	const char *p[] = {target, lim};
	enum store_qs qs;
	PGresult *res;
	int rows;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%ld", limit);
	res = store_exec(c, &st, 2, p, &qs);
	rows = qs >= 0 ? PQntuples(res) : 0;
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof **out)) == NULL)
		qs = STORE_HARD;
	for (int i = 0; *out != NULL && i < rows; i++)
		snprintf((*out)[(*n)++], 65, "%s", PQgetvalue(res, i, 0));
	PQclear(res);
	return qs;
}
