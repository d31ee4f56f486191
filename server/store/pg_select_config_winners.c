/* Which configuration should win each twin: one statement evaluates every
 * configuration's compiled condition in priority order (a CASE, first
 * match wins) beside what the twin carries now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "server/store/configs.h"
#include "server/store/store_pg.h"

void store_config_winners_free(struct store_config_winner *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++) {
		free(w[i].device_id);
		free(w[i].applied_id);
		free(w[i].applied_etag);
	}
	free(w);
}

static int add(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* SELECT t.device_id, t.w, a.configuration_id, a.etag FROM (SELECT
 * device_id, CASE WHEN (c0) THEN 0 ... ELSE -1 END AS w FROM twins
 * [WHERE device_id = $k | WHERE device_id > $a]) t LEFT JOIN
 * twin_configuration_applied a USING (device_id) WHERE t.w >= 0 OR
 * a.device_id IS NOT NULL ORDER BY t.device_id [LIMIT $l] */
static char *build_sql(const struct twinq *conds, size_t nconds, size_t nparams, int by_device,
		       int after, int limit)
{
	struct buf b;
	char num[64];
	int ok;
	char *sql = NULL;

	buf_init(&b, 4 * 1024 * 1024);
	ok = add(&b,
		 "SELECT t.device_id, t.w, a.configuration_id, a.etag FROM (SELECT device_id, ") ==
	     0;
	if (nconds == 0)
		ok = ok && add(&b, "-1") == 0;
	else
		ok = ok && add(&b, "CASE") == 0;
	for (size_t i = 0; ok && i < nconds; i++) {
		snprintf(num, sizeof num, ") THEN %zu", i);
		ok = add(&b, " WHEN (") == 0 && add(&b, conds[i].where_sql) == 0 &&
		     add(&b, num) == 0;
	}
	if (ok && nconds > 0)
		ok = add(&b, " ELSE -1 END") == 0;
	ok = ok && add(&b, " AS w FROM twins") == 0;
	if (ok && (by_device || after)) {
		snprintf(num, sizeof num, " WHERE device_id %s $%zu::text", by_device ? "=" : ">",
			 ++nparams);
		ok = add(&b, num) == 0;
	}
	ok = ok && add(&b, ") t LEFT JOIN twin_configuration_applied a USING (device_id)"
			   " WHERE t.w >= 0 OR a.device_id IS NOT NULL ORDER BY t.device_id") == 0;
	if (ok && limit) {
		snprintf(num, sizeof num, " LIMIT $%zu::bigint", ++nparams);
		ok = add(&b, num) == 0;
	}
	if (ok)
		sql = strndup((char *)b.data, b.len);
	buf_free(&b);
	return sql;
}

enum store_qs store_select_config_winners(struct store_conn *c, const struct twinq *conds,
					  size_t nconds, const char *device_id, const char *after,
					  long long limit, struct store_config_winner **out,
					  size_t *n)
{
	size_t np = 0, rows;
	const char **p;
	char *sql, lim[24];
	enum store_qs qs = STORE_HARD;
	PGresult *res = NULL;
	int ok = 1;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < nconds; i++)
		np += conds[i].nparams;
	p = calloc(np + 2, sizeof *p);
	if (device_id != NULL)
		after = NULL;
	sql = build_sql(conds, nconds, np, device_id != NULL, after != NULL,
			device_id == NULL && limit > 0);
	if (p == NULL || sql == NULL)
		goto out;
	np = 0;
	for (size_t i = 0; i < nconds; i++)
		for (size_t j = 0; j < conds[i].nparams; j++)
			p[np++] = conds[i].params[j];
	if (device_id != NULL)
		p[np++] = device_id;
	if (after != NULL)
		p[np++] = after;
	snprintf(lim, sizeof lim, "%lld", limit);
	if (device_id == NULL && limit > 0)
		p[np++] = lim;
	res = store_exec_dynamic(c, sql, (int)np, p, &qs);
	if (qs <= 0)
		goto out;
	rows = (size_t)PQntuples(res);
	if ((*out = calloc(rows, sizeof **out)) == NULL) {
		qs = STORE_HARD;
		goto out;
	}
	for (size_t r = 0; r < rows; r++) {
		(*out)[r].device_id = store_value_dup(res, (int)r, 0, &ok);
		(*out)[r].winner = (int)store_value_ll(res, (int)r, 1);
		(*out)[r].applied_id = store_value_dup(res, (int)r, 2, &ok);
		(*out)[r].applied_etag = store_value_dup(res, (int)r, 3, &ok);
	}
	*n = rows;
	if (!ok) {
		store_config_winners_free(*out, *n);
		*out = NULL;
		*n = 0;
		qs = STORE_HARD;
	}
out:
	PQclear(res);
	free(sql);
	free(p);
	return qs;
}
