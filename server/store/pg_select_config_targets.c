/* Which configurations target one twin and which one it carries: one
 * statement evaluates every configuration's compiled condition on the twin
 * (for the twin's `configurations` member). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "server/store/configs.h"
#include "server/store/store_pg.h"

/* SELECT COALESCE((c0), false), ..., (SELECT configuration_id FROM
 * twin_configuration_applied WHERE device_id = $k) FROM twins WHERE
 * device_id = $k */
static char *build_sql(const struct twinq *conds, size_t nconds, size_t k)
{
	struct buf b;
	char num[32];
	int ok;
	char *sql = NULL;

	buf_init(&b, 4 * 1024 * 1024);
	ok = buf_add(&b, "SELECT ", 7) == 0;
	for (size_t i = 0; ok && i < nconds; i++)
		ok = buf_add(&b, "COALESCE((", 10) == 0 &&
		     buf_add(&b, conds[i].where_sql, strlen(conds[i].where_sql)) == 0 &&
		     buf_add(&b, "), false), ", 11) == 0;
	snprintf(num, sizeof num, "$%zu::text", k);
	ok = ok &&
	     buf_add(&b,
		     "(SELECT configuration_id FROM twin_configuration_applied WHERE device_id = ",
		     75) == 0 &&
	     buf_add(&b, num, strlen(num)) == 0 &&
	     buf_add(&b, ") FROM twins WHERE device_id = ", 31) == 0 &&
	     buf_add(&b, num, strlen(num)) == 0;
	if (ok)
		sql = strndup((char *)b.data, b.len);
	buf_free(&b);
	return sql;
}

enum store_qs store_select_config_targets(struct store_conn *c, const struct twinq *conds,
					  size_t nconds, const char *device_id, bool *targeted,
					  char **applied_id)
{
	size_t np = 0;
	const char **p;
	char *sql;
	enum store_qs qs = STORE_HARD;
	PGresult *res = NULL;
	int ok = 1;

	*applied_id = NULL;
	for (size_t i = 0; i < nconds; i++)
		np += conds[i].nparams;
	p = calloc(np + 1, sizeof *p);
	sql = build_sql(conds, nconds, np + 1);
	if (p == NULL || sql == NULL)
		goto out;
	np = 0;
	for (size_t i = 0; i < nconds; i++)
		for (size_t j = 0; j < conds[i].nparams; j++)
			p[np++] = conds[i].params[j];
	p[np++] = device_id;
	res = store_exec_dynamic(c, sql, (int)np, p, &qs);
	if (qs != STORE_ONE)
		goto out;
	for (size_t i = 0; i < nconds; i++)
		targeted[i] = strcmp(PQgetvalue(res, 0, (int)i), "t") == 0;
	*applied_id = store_value_dup(res, 0, (int)nconds, &ok);
	if (!ok)
		qs = STORE_HARD;
out:
	PQclear(res);
	free(sql);
	free(p);
	return qs;
}
