/* The twin query language's SQL compiler: the syntax tree to SQL over the
 * twins table, every literal and path segment a bind parameter. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "server/twinq_ast.h"

#define SQL_MAX (256 * 1024)

/* Comparisons follow IoT Hub: a number against a string is false, not an
 * error; an undefined path matches no comparison. */
struct cc {
	struct twinq *q;
	struct twinq_error *err;
	size_t base; /* parameters are numbered from base + 1 */
	size_t pos;  /* where in the text the construct being compiled ends */
	bool failed;
};

static int fail(struct cc *c, bool limit, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct cc *c, bool limit, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return -1;
	c->failed = true;
	c->err->pos = c->pos;
	c->err->too_complex = limit;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static int out(struct cc *c, struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int out(struct cc *c, struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return fail(c, false, "out of memory");
	if (buf_add(b, tmp, (size_t)n) != 0)
		return fail(c, true, "the query compiles to too much SQL");
	return 0;
}

/* Takes value (owned) as the next parameter; returns its number or -1. */
static int param(struct cc *c, char *value)
{
	char **np;

	if (value == NULL)
		return fail(c, false, "out of memory");
	if (c->q->nparams >= TWINQ_PARAMS_MAX) {
		free(value);
		return fail(c, true, "more than %d literals and path segments", TWINQ_PARAMS_MAX);
	}
	np = realloc(c->q->params, (c->q->nparams + 1) * sizeof *np);
	if (np == NULL) {
		free(value);
		return fail(c, false, "out of memory");
	}
	c->q->params = np;
	np[c->q->nparams++] = value;
	return (int)(c->base + c->q->nparams);
}

static const char *root_column(enum tq_root r)
{
	switch (r) {
	case TQ_DEVICEID: return "device_id";
	case TQ_STATUS: return "status";
	case TQ_ETAG: return "etag";
	case TQ_VERSION: return "version";
	case TQ_TAGS: return "tags";
	case TQ_DESIRED: return "desired";
	default: return "reported";
	}
}

/* The path's value as a jsonb expression (SQL NULL when undefined). */
static int emit_path(struct cc *c, struct buf *b, const struct tq_path *pa)
{
	if (pa->root < TQ_TAGS)
		return out(c, b, "to_jsonb(%s)", root_column(pa->root));
	if (pa->nseg == 0)
		return out(c, b, "%s", root_column(pa->root));
	if (out(c, b, "(%s #> ARRAY[", root_column(pa->root)) != 0)
		return -1;
	for (int i = 0; i < pa->nseg; i++) {
		int n = param(c, strdup(pa->seg[i]));

		if (n < 0 || out(c, b, "%s$%d::text", i ? "," : "", n) != 0)
			return -1;
	}
	return out(c, b, "])");
}

static int emit_operand(struct cc *c, struct buf *b, const struct tq_operand *o)
{
	int n;

	if (o->is_path)
		return emit_path(c, b, &o->path);
	n = param(c, strdup(o->json));
	return n < 0 ? -1 : out(c, b, "$%d::jsonb", n);
}

/* {"a":{"b":LIT}} for a containment test the GIN index answers. */
static char *containment(const struct tq_path *pa, const char *lit)
{
	struct buf b;
	char *r = NULL;
	int ok = 1;

	buf_init(&b, SQL_MAX);
	for (int i = 0; i < pa->nseg && ok; i++) {
		char *k = tq_json_text(json_string(pa->seg[i]));

		ok = k && buf_add(&b, "{", 1) == 0 && buf_add(&b, k, strlen(k)) == 0 &&
		     buf_add(&b, ":", 1) == 0;
		free(k);
	}
	ok = ok && buf_add(&b, lit, strlen(lit)) == 0;
	for (int i = 0; i < pa->nseg && ok; i++)
		ok = buf_add(&b, "}", 1) == 0;
	if (ok)
		r = strndup((char *)b.data, b.len);
	buf_free(&b);
	return r;
}

static int emit_compare(struct cc *c, struct buf *b, const struct tq_operand *l, const char *op,
			const struct tq_operand *r)
{
	const struct tq_operand *pa = l->is_path ? l : r, *lit = l->is_path ? r : l;
	int n;

	if (strcmp(op, "=") == 0 && pa->is_path && !lit->is_path && pa->path.root >= TQ_TAGS &&
	    pa->path.nseg > 0) {
		/* Containment lets the GIN index find candidates; the equality
		 * keeps the meaning exact. */
		n = param(c, containment(&pa->path, lit->json));
		if (n < 0 ||
		    out(c, b, "(%s @> $%d::jsonb AND ", root_column(pa->path.root), n) != 0 ||
		    emit_path(c, b, &pa->path) != 0 || out(c, b, " = ") != 0 ||
		    emit_operand(c, b, lit) != 0)
			return -1;
		return out(c, b, ")");
	}
	if (strcmp(op, "=") == 0 && pa->is_path && !lit->is_path && pa->path.root == TQ_DEVICEID &&
	    lit->str != NULL) {
		n = param(c, strdup(lit->str));
		return n < 0 ? -1 : out(c, b, "(device_id = $%d::text)", n);
	}
	if (strcmp(op, "=") == 0 || strcmp(op, "!=") == 0 || strcmp(op, "<>") == 0) {
		if (out(c, b, "COALESCE(") != 0 || emit_operand(c, b, l) != 0 ||
		    out(c, b, " %s ", op[0] == '=' ? "=" : "<>") != 0 || emit_operand(c, b, r) != 0)
			return -1;
		return out(c, b, ", false)");
	}
	/* Ordering: numbers with numbers, strings with strings, else false. */
	if (out(c, b, "COALESCE(jsonb_typeof(") != 0 || emit_operand(c, b, l) != 0 ||
	    out(c, b, ") IN ('number', 'string') AND jsonb_typeof(") != 0 ||
	    emit_operand(c, b, l) != 0 || out(c, b, ") = jsonb_typeof(") != 0 ||
	    emit_operand(c, b, r) != 0 || out(c, b, ") AND ") != 0 || emit_operand(c, b, l) != 0 ||
	    out(c, b, " %s ", op) != 0 || emit_operand(c, b, r) != 0)
		return -1;
	return out(c, b, ", false)");
}

static int emit_in(struct cc *c, struct buf *b, const struct tq_node *n)
{
	c->pos = n->end;
	if (out(c, b, "COALESCE(") != 0 || emit_operand(c, b, &n->l) != 0 ||
	    out(c, b, n->kind == TQ_NIN ? " <> ALL(ARRAY[" : " = ANY(ARRAY[") != 0)
		return -1;
	for (size_t i = 0; i < n->nlist; i++) {
		c->pos = n->list[i].end;
		if (out(c, b, "%s", i ? ", " : "") != 0 || emit_operand(c, b, &n->list[i]) != 0)
			return -1;
	}
	return out(c, b, "]), false)");
}

/* The jsonb types each type function accepts (IS_DEFINED: any). */
static const char *const func_types[TQ_NFUNCS] = {
	[TQ_IS_NULL] = "'null'",
	[TQ_IS_BOOL] = "'boolean'",
	[TQ_IS_NUMBER] = "'number'",
	[TQ_IS_STRING] = "'string'",
	[TQ_IS_OBJECT] = "'object'",
	[TQ_IS_ARRAY] = "'array'",
	[TQ_IS_PRIMITIVE] = "'string', 'number', 'boolean', 'null'",
};

static int emit_func(struct cc *c, struct buf *b, const struct tq_node *n)
{
	const struct tq_path *pa = &n->l.path;
	int k;

	c->pos = n->end;
	if (n->func == TQ_STARTS_WITH || n->func == TQ_ENDS_WITH) {
		k = param(c, strdup(n->r.str));
		if (k < 0 || out(c, b, "COALESCE(jsonb_typeof(") != 0 || emit_path(c, b, pa) != 0 ||
		    out(c, b, ") = 'string' AND ") != 0)
			return -1;
		if (n->func == TQ_STARTS_WITH &&
		    (out(c, b, "starts_with(") != 0 || emit_path(c, b, pa) != 0 ||
		     out(c, b, " #>> '{}', $%d::text)", k) != 0))
			return -1;
		if (n->func == TQ_ENDS_WITH &&
		    (out(c, b, "right(") != 0 || emit_path(c, b, pa) != 0 ||
		     out(c, b, " #>> '{}', char_length($%d::text)) = $%d::text", k, k) != 0))
			return -1;
		return out(c, b, ", false)");
	}
	if (n->func == TQ_IS_DEFINED)
		return out(c, b, "(") != 0 || emit_path(c, b, pa) != 0 ? -1
								       : out(c, b, " IS NOT NULL)");
	if (out(c, b, "COALESCE(jsonb_typeof(") != 0 || emit_path(c, b, pa) != 0)
		return -1;
	return out(c, b, ") IN (%s), false)", func_types[n->func]);
}

static int emit_node(struct cc *c, struct buf *b, const struct tq_node *n)
{
	switch (n->kind) {
	case TQ_OR:
	case TQ_AND:
		if (n->kind == TQ_OR && out(c, b, "(") != 0)
			return -1;
		for (size_t i = 0; i < n->nkids; i++)
			if ((i && out(c, b, n->kind == TQ_OR ? " OR " : " AND ") != 0) ||
			    emit_node(c, b, n->kids[i]) != 0)
				return -1;
		return n->kind == TQ_OR ? out(c, b, ")") : 0;
	case TQ_NOT:
		return out(c, b, "(NOT ") != 0 || emit_node(c, b, n->kids[0]) != 0 ? -1
										   : out(c, b, ")");
	case TQ_GROUP:
		return out(c, b, "(") != 0 || emit_node(c, b, n->kids[0]) != 0 ? -1
									       : out(c, b, ")");
	case TQ_CMP: c->pos = n->end; return emit_compare(c, b, &n->l, n->op, &n->r);
	case TQ_IN:
	case TQ_NIN: return emit_in(c, b, n);
	case TQ_FUNC: return emit_func(c, b, n);
	}
	return -1;
}

/* The select list after device_id (PROJECT) or alone (AGGREGATE), and
 * GROUP BY as column numbers. */
static int emit_select(struct cc *c, const struct tq_query *t, struct buf *sel, struct buf *grp)
{
	for (size_t i = 0; i < t->nitems; i++) {
		const struct tq_item *it = &t->items[i];

		if (out(c, sel, "%s", i || c->q->kind == TWINQ_PROJECT ? ", " : "") != 0)
			return -1;
		if (it->is_count) {
			if (out(c, sel, "count(*)") != 0)
				return -1;
		} else if (out(c, sel, "(") != 0 || emit_path(c, sel, &it->path) != 0 ||
			   out(c, sel, ")::text") != 0) {
			return -1;
		}
	}
	for (size_t j = 0; j < t->ngroups; j++)
		if (out(c, grp, "%s%zu", j ? ", " : "", t->group_col[j] + 1) != 0)
			return -1;
	return 0;
}

static char *take(struct cc *c, const struct buf *b, bool always)
{
	char *s;

	if (b->len == 0 && !always)
		return NULL;
	s = strndup(b->data ? (char *)b->data : "", b->len);
	if (s == NULL)
		fail(c, false, "out of memory");
	return s;
}

int tq_sql(const struct tq_query *t, size_t base, struct twinq *q, struct twinq_error *err)
{
	struct cc c = {.q = q, .err = err, .base = base, .pos = t->end};
	struct buf sel, where, grp, order;
	int rc = -1;

	buf_init(&sel, SQL_MAX);
	buf_init(&where, SQL_MAX);
	buf_init(&grp, SQL_MAX);
	buf_init(&order, SQL_MAX);
	if (t->where != NULL ? emit_node(&c, &where, t->where) != 0 : out(&c, &where, "TRUE") != 0)
		goto out;
	c.pos = t->end;
	if (emit_select(&c, t, &sel, &grp) != 0 ||
	    (t->has_order && emit_path(&c, &order, &t->order) != 0))
		goto out;
	q->select_sql = take(&c, &sel, true);
	q->where_sql = take(&c, &where, true);
	q->group_sql = take(&c, &grp, false);
	q->order_sql = take(&c, &order, false);
	if (q->select_sql != NULL && q->where_sql != NULL && (grp.len == 0 || q->group_sql) &&
	    (order.len == 0 || q->order_sql))
		rc = 0;
out:
	buf_free(&sel);
	buf_free(&where);
	buf_free(&grp);
	buf_free(&order);
	return rc;
}

static int compile(const char *text, struct twinq *q, struct twinq_error *err, bool whole,
		   size_t base)
{
	struct tq_query t;
	int rc;

	memset(q, 0, sizeof *q);
	memset(err, 0, sizeof *err);
	q->top = -1;
	rc = tq_parse(text, whole, &t, q, err);
	if (rc == 0)
		rc = tq_sql(&t, base, q, err);
	tq_query_free(&t);
	if (rc != 0)
		twinq_free(q);
	return rc;
}

int twinq_compile(const char *text, struct twinq *out_q, struct twinq_error *err)
{
	return compile(text, out_q, err, true, 0);
}

int twinq_compile_condition(const char *text, struct twinq *out_q, struct twinq_error *err)
{
	return compile(text, out_q, err, false, 0);
}

int twinq_compile_condition_from(const char *text, size_t base, struct twinq *out_q,
				 struct twinq_error *err)
{
	return compile(text, out_q, err, false, base);
}

void twinq_free(struct twinq *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->ncols; i++)
		free(q->cols[i].name);
	free(q->cols);
	free(q->select_sql);
	free(q->where_sql);
	free(q->group_sql);
	free(q->order_sql);
	for (size_t i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	memset(q, 0, sizeof *q);
	q->top = -1;
}
