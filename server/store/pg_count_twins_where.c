/* Counts the twins a compiled condition matches: systemMetrics'
 * targetedCount and the custom metric queries. */
#include "server/store/configs.h"
#include "server/store/store_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum store_qs store_count_twins_where(struct store_conn *c, const struct twinq *cond,
				      long long *count)
{
	static const char head[] = "SELECT count(*) FROM twins WHERE ";
	size_t n = sizeof head + strlen(cond->where_sql);
	char *sql = malloc(n);
	enum store_qs qs = STORE_HARD;
	PGresult *res = NULL;

	*count = 0;
	if (sql == NULL)
		return STORE_HARD;
	snprintf(sql, n, "%s%s", head, cond->where_sql);
	res = store_exec_dynamic(c, sql, (int)cond->nparams, (const char *const *)cond->params,
				 &qs);
	if (qs == STORE_ONE)
		*count = store_value_ll(res, 0, 0);
	PQclear(res);
	free(sql);
	return qs;
}
