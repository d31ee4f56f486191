/* Runs a compiled twin query: the SQL is assembled from twinq's fixed
 * fragments and parameter numbers, and every value travels as a
 * parameter. Keyset paging on device_id keeps pages stable while twins are
 * added: a page starts strictly after the last device ID served. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "server/store/store_pg.h"
#include "server/store/twin_query.h"

void store_twin_page_free(struct store_twin_page *pg)
{
	if (pg == NULL)
		return;
	for (size_t i = 0; i < pg->n && pg->twins; i++)
		store_twin_free(&pg->twins[i]);
	free(pg->twins);
	for (size_t i = 0; i < pg->n * pg->ncols && pg->cells; i++)
		free(pg->cells[i]);
	free(pg->cells);
	memset(pg, 0, sizeof *pg);
}

static int add(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* SELECT ... FROM twins WHERE (cond) [AND device_id > $k] [GROUP BY]
 * ORDER BY ... LIMIT $l, with $k and $l numbered after q's parameters. */
static char *build_sql(const struct twinq *q, const char *after)
{
	struct buf b;
	char num[64];
	int n = (int)q->nparams, ok;
	char *sql = NULL;

	buf_init(&b, 512 * 1024);
	if (q->kind == TWINQ_TWINS)
		ok = add(&b, "SELECT device_id, etag, version, status, tags::text, desired::text,"
			     " reported::text, (desired->>'$version')::bigint, " STORE_EPOCH(
				     "updated_at")) == 0;
	else if (q->kind == TWINQ_PROJECT)
		ok = add(&b, "SELECT device_id") == 0 && add(&b, q->select_sql) == 0;
	else
		ok = add(&b, "SELECT ") == 0 && add(&b, q->select_sql) == 0;
	ok = ok && add(&b, " FROM twins WHERE ") == 0 && add(&b, q->where_sql) == 0;
	if (ok && after != NULL && q->kind != TWINQ_AGGREGATE) {
		snprintf(num, sizeof num, " AND device_id > $%d::text", ++n);
		ok = add(&b, num) == 0;
	}
	if (ok && q->kind != TWINQ_AGGREGATE)
		ok = add(&b, " ORDER BY device_id") == 0;
	else if (ok && q->group_sql != NULL)
		ok = add(&b, " GROUP BY ") == 0 && add(&b, q->group_sql) == 0 &&
		     add(&b, " ORDER BY ") == 0 && add(&b, q->group_sql) == 0;
	snprintf(num, sizeof num, " LIMIT $%d::bigint", ++n);
	ok = ok && add(&b, num) == 0;
	if (ok)
		sql = strndup((char *)b.data, b.len);
	buf_free(&b);
	return sql;
}

/* Row r of a result with the twin columns; shared with pg_lock_twins.c. */
int twin_row_at(const PGresult *res, int r, struct store_twin *t);

int twin_row_at(const PGresult *res, int r, struct store_twin *t)
{
	int ok = 1;

	t->device_id = store_value_dup(res, r, 0, &ok);
	t->etag = store_value_dup(res, r, 1, &ok);
	t->version = store_value_ll(res, r, 2);
	t->status = store_value_dup(res, r, 3, &ok);
	t->tags = store_value_dup(res, r, 4, &ok);
	t->desired = store_value_dup(res, r, 5, &ok);
	t->reported = store_value_dup(res, r, 6, &ok);
	t->desired_version = store_value_ll(res, r, 7);
	t->updated_at = store_value_ll(res, r, 8);
	return ok ? 0 : -1;
}

static int read_rows(const PGresult *res, const struct twinq *q, struct store_twin_page *out)
{
	size_t rows = (size_t)PQntuples(res);
	int ok = 1;

	if (rows == 0)
		return 0;
	if (q->kind == TWINQ_TWINS) {
		out->twins = calloc(rows, sizeof *out->twins);
		if (out->twins == NULL)
			return -1;
		for (; out->n < rows; out->n++)
			if (twin_row_at(res, (int)out->n, &out->twins[out->n]) != 0) {
				out->n++;
				return -1;
			}
		return 0;
	}
	out->ncols = (size_t)PQnfields(res);
	out->cells = calloc(rows * out->ncols, sizeof *out->cells);
	if (out->cells == NULL)
		return -1;
	out->n = rows;
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < out->ncols; c++)
			out->cells[r * out->ncols + c] = store_value_dup(res, (int)r, (int)c, &ok);
	return ok ? 0 : -1;
}

enum store_qs store_select_twin_query(struct store_conn *c, const struct twinq *q,
				      const char *after, long long limit,
				      struct store_twin_page *out)
{
	const char **p = calloc(q->nparams + 2, sizeof *p);
	char *sql = build_sql(q, after), lim[24];
	enum store_qs qs = STORE_HARD;
	size_t n = q->nparams;
	PGresult *res = NULL;

	memset(out, 0, sizeof *out);
	if (p == NULL || sql == NULL)
		goto out;
	if (q->nparams > 0)
		memcpy(p, q->params, q->nparams * sizeof *p);
	if (after != NULL && q->kind != TWINQ_AGGREGATE)
		p[n++] = after;
	snprintf(lim, sizeof lim, "%lld", limit);
	p[n++] = lim;
	res = store_exec_dynamic(c, sql, (int)n, p, &qs);
	if (res != NULL && read_rows(res, q, out) != 0) {
		store_twin_page_free(out);
		qs = STORE_HARD;
	}
out:
	PQclear(res);
	free(sql);
	free(p);
	return qs;
}
