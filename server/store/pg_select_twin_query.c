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
	for (size_t i = 0; i < pg->n && pg->keys; i++)
		free(pg->keys[i]);
	free(pg->keys);
	memset(pg, 0, sizeof *pg);
}

static int add(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* SELECT ...[, (K)::text] FROM twins WHERE (cond) [AND after] [GROUP BY]
 * ORDER BY [(K) ASC|DESC NULLS LAST,] device_id LIMIT $l, with the cursor's
 * and the limit's parameters numbered after q's. K is q's ORDER BY path;
 * after it, a page starts past the last row's (K, device_id). */
static char *build_sql(const struct twinq *q, const struct store_twin_after *after)
{
	const char *k = q->order_sql;
	struct buf b;
	char num[96];
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
	if (ok && k != NULL)
		ok = add(&b, ", (") == 0 && add(&b, k) == 0 && add(&b, ")::text") == 0;
	ok = ok && add(&b, " FROM twins WHERE ") == 0 && add(&b, q->where_sql) == 0;
	if (ok && after != NULL && q->kind != TWINQ_AGGREGATE) {
		if (k != NULL && after->key != NULL) {
			/* past the key, or at it past the ID, or undefined (last) */
			snprintf(num, sizeof num, " %s $%d::jsonb OR ((", q->order_desc ? "<" : ">",
				 n + 1);
			ok = add(&b, " AND ((") == 0 && add(&b, k) == 0 && add(&b, ")") == 0 &&
			     add(&b, num) == 0 && add(&b, k) == 0;
			snprintf(num, sizeof num, ") = $%d::jsonb AND device_id > $%d::text) OR (",
				 n + 1, n + 2);
			ok = ok && add(&b, num) == 0 && add(&b, k) == 0 &&
			     add(&b, ") IS NULL)") == 0;
			n += 2;
		} else if (k != NULL) {
			/* among the undefined, past the ID */
			snprintf(num, sizeof num, ") IS NULL AND device_id > $%d::text", ++n);
			ok = add(&b, " AND (") == 0 && add(&b, k) == 0 && add(&b, num) == 0;
		} else {
			snprintf(num, sizeof num, " AND device_id > $%d::text", ++n);
			ok = add(&b, num) == 0;
		}
	}
	if (ok && q->kind != TWINQ_AGGREGATE) {
		ok = add(&b, " ORDER BY ") == 0;
		if (ok && k != NULL)
			ok = add(&b, "(") == 0 && add(&b, k) == 0 &&
			     add(&b,
				 q->order_desc ? ") DESC NULLS LAST, " : ") ASC NULLS LAST, ") == 0;
		ok = ok && add(&b, "device_id") == 0;
	} else if (ok && q->group_sql != NULL) {
		ok = add(&b, " GROUP BY ") == 0 && add(&b, q->group_sql) == 0 &&
		     add(&b, " ORDER BY ") == 0 && add(&b, q->group_sql) == 0;
	}
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
	int ok = 1, fields = PQnfields(res);

	if (rows == 0)
		return 0;
	if (q->order_sql != NULL) { /* the sort key is the last column */
		if ((out->keys = calloc(rows, sizeof *out->keys)) == NULL)
			return -1;
		fields--;
		for (size_t r = 0; r < rows; r++)
			out->keys[r] = store_value_dup(res, (int)r, fields, &ok);
	}
	if (q->kind == TWINQ_TWINS) {
		out->twins = calloc(rows, sizeof *out->twins);
		if (out->twins == NULL) {
			out->n = rows; /* the keys */
			return -1;
		}
		for (; out->n < rows; out->n++)
			if (twin_row_at(res, (int)out->n, &out->twins[out->n]) != 0) {
				out->n = rows;
				return -1;
			}
		return ok ? 0 : -1;
	}
	out->ncols = (size_t)fields;
	out->n = rows;
	out->cells = calloc(rows * out->ncols, sizeof *out->cells);
	if (out->cells == NULL)
		return -1;
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < out->ncols; c++)
			out->cells[r * out->ncols + c] = store_value_dup(res, (int)r, (int)c, &ok);
	return ok ? 0 : -1;
}

enum store_qs store_select_twin_query(struct store_conn *c, const struct twinq *q,
				      const struct store_twin_after *after, long long limit,
				      struct store_twin_page *out)
{
	const char **p = calloc(q->nparams + 3, sizeof *p);
	char *sql = build_sql(q, after), lim[24];
	enum store_qs qs = STORE_HARD;
	size_t n = q->nparams;
	PGresult *res = NULL;

	memset(out, 0, sizeof *out);
	if (p == NULL || sql == NULL)
		goto out;
	if (q->nparams > 0)
		memcpy(p, q->params, q->nparams * sizeof *p);
	if (after != NULL && q->kind != TWINQ_AGGREGATE) {
		if (q->order_sql != NULL && after->key != NULL)
			p[n++] = after->key;
		p[n++] = after->device_id;
	}
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
