/* The distinct targets agents report in their twins
 * (properties.reported.agent.target), at most limit of them: the depot
 * compiles for these besides --depot-compile-targets. Strings only; the
 * caller validates their form. */
#include <stdlib.h>
#include <string.h>

#include "server/store/depot_compiled.h"
#include "server/store/store_pg.h"

enum store_qs store_select_twin_agent_targets(struct store_conn *c, long limit, char ***out,
					      size_t *n)
{
	static struct store_stmt st = {
		"select_twin_agent_targets",
		"SELECT DISTINCT reported #>> '{agent,target}' FROM twins"
		" WHERE jsonb_typeof(reported #> '{agent,target}') = 'string'"
		" ORDER BY 1 LIMIT $1::bigint",
		0};
	char lim[24];
	const char *p[] = {lim};
	enum store_qs qs;
	PGresult *res;
	int rows;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%ld", limit);
	res = store_exec(c, &st, 1, p, &qs);
	rows = qs >= 0 ? PQntuples(res) : 0;
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof **out)) == NULL)
		qs = STORE_HARD;
	for (int i = 0; *out != NULL && i < rows; i++)
		if (((*out)[(*n)++] = strdup(PQgetvalue(res, i, 0))) == NULL)
			qs = STORE_HARD;
	PQclear(res);
	return qs;
}

void store_twin_agent_targets_free(char **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i]);
	free(t);
}
