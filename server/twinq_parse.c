/* The twin query language's parser: query text to the syntax tree of
 * server/twinq_ast.h, with every rule the text alone decides. The tokens
 * come from server/twinq_lex.c. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "server/twinq_ast.h"
#include "server/twinq_lex.h"

char *tq_json_text(json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(v);
	return s;
}

/* ---- paths ----------------------------------------------------------------- */

static void path_free(struct tq_path *pa)
{
	for (int i = 0; i < pa->nseg; i++)
		free(pa->seg[i]);
	pa->nseg = 0;
}

static bool path_equal(const struct tq_path *a, const struct tq_path *b)
{
	if (a->root != b->root || a->nseg != b->nseg)
		return false;
	for (int i = 0; i < a->nseg; i++)
		if (strcmp(a->seg[i], b->seg[i]) != 0)
			return false;
	return true;
}

static int segment(struct tq_parser *p, struct tq_path *pa)
{
	if (p->t != T_IDENT)
		return tq_fail(p, p->tpos, false, "expected a property name");
	if (pa->nseg >= TWINQ_PATH_MAX)
		return tq_fail(p, p->tpos, true, "a path deeper than %d", TWINQ_PATH_MAX);
	pa->seg[pa->nseg] = strndup(p->s + p->tpos, p->tlen);
	if (pa->seg[pa->nseg] == NULL)
		return tq_nomem(p);
	pa->nseg++;
	return tq_next(p);
}

/* root(.name)*: the roots are the twin's members. */
static int parse_path(struct tq_parser *p, struct tq_path *pa)
{
	static const struct {
		const char *name;
		enum tq_root root;
	} roots[] = {{"deviceId", TQ_DEVICEID},
		     {"status", TQ_STATUS},
		     {"etag", TQ_ETAG},
		     {"version", TQ_VERSION},
		     {"tags", TQ_TAGS}};
	size_t i;

	memset(pa, 0, sizeof *pa);
	for (i = 0; i < sizeof roots / sizeof roots[0]; i++)
		if (tq_is_kw(p, roots[i].name))
			break;
	if (i < sizeof roots / sizeof roots[0]) {
		pa->root = roots[i].root;
		if (tq_next(p) != 0)
			return -1;
	} else if (tq_is_kw(p, "properties")) {
		if (tq_next(p) != 0 || tq_expect(p, T_DOT, "'.' after properties") != 0)
			return -1;
		if (tq_is_kw(p, "desired"))
			pa->root = TQ_DESIRED;
		else if (tq_is_kw(p, "reported"))
			pa->root = TQ_REPORTED;
		else
			return tq_fail(p, p->tpos, false, "expected desired or reported");
		if (tq_next(p) != 0)
			return -1;
	} else {
		return tq_fail(p, p->tpos, false,
			       "expected deviceId, status, etag, version, tags or properties");
	}
	while (p->t == T_DOT) {
		if (pa->root < TQ_TAGS)
			return tq_fail(p, p->tpos, false, "%s has no members",
				       roots[pa->root].name);
		if (tq_next(p) != 0 || segment(p, pa) != 0) {
			path_free(pa);
			return -1;
		}
	}
	return 0;
}

/* ---- operands and conditions ------------------------------------------- */

static void operand_free(struct tq_operand *o)
{
	path_free(&o->path);
	free(o->json);
	free(o->str);
	memset(o, 0, sizeof *o);
}

static void node_free(struct tq_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	operand_free(&n->l);
	operand_free(&n->r);
	for (size_t i = 0; i < n->nlist; i++)
		operand_free(&n->list[i]);
	free(n->list);
	free(n);
}

static struct tq_node *node_new(struct tq_parser *p, enum tq_kind kind)
{
	struct tq_node *n = calloc(1, sizeof *n);

	if (n == NULL)
		tq_nomem(p);
	else
		n->kind = kind;
	return n;
}

/* Appends kid (owned) to n; -1 (kid freed) when out of memory. */
static int node_add(struct tq_parser *p, struct tq_node *n, struct tq_node *kid)
{
	struct tq_node **k = realloc(n->kids, (n->nkids + 1) * sizeof *k);

	if (k == NULL) {
		node_free(kid);
		return tq_nomem(p);
	}
	n->kids = k;
	k[n->nkids++] = kid;
	return 0;
}

static bool at_literal(const struct tq_parser *p)
{
	return p->t == T_STRING || p->t == T_NUMBER || tq_is_kw(p, "true") ||
	       tq_is_kw(p, "false") || tq_is_kw(p, "null");
}

static int parse_literal(struct tq_parser *p, struct tq_operand *o)
{
	if (p->t == T_STRING) {
		o->json = tq_json_text(json_string(p->tstr));
		o->str = strdup(p->tstr);
		if (o->str == NULL)
			return tq_nomem(p);
	} else if (p->t == T_NUMBER) {
		o->json = strndup(p->s + p->tpos, p->tlen);
	} else if (tq_is_kw(p, "true")) {
		o->json = strdup("true");
	} else if (tq_is_kw(p, "false")) {
		o->json = strdup("false");
	} else if (tq_is_kw(p, "null")) {
		o->json = strdup("null");
	} else {
		return tq_fail(p, p->tpos, false, "expected a literal");
	}
	if (o->json == NULL)
		return tq_nomem(p);
	if (tq_next(p) != 0)
		return -1;
	o->end = p->tpos;
	return 0;
}

static int parse_operand(struct tq_parser *p, struct tq_operand *o)
{
	memset(o, 0, sizeof *o);
	if (at_literal(p))
		return parse_literal(p, o);
	o->is_path = true;
	return parse_path(p, &o->path);
}

/* IN [..] / NIN [..] after the operand n->l. */
static int parse_in(struct tq_parser *p, struct tq_node *n)
{
	if (tq_next(p) != 0 || tq_expect(p, T_LBRACK, "'[' after IN") != 0)
		return -1;
	n->end = p->tpos;
	for (;;) {
		struct tq_operand *l = realloc(n->list, (n->nlist + 1) * sizeof *l);

		if (l == NULL)
			return tq_nomem(p);
		n->list = l;
		memset(&l[n->nlist], 0, sizeof *l);
		n->nlist++;
		if (parse_literal(p, &l[n->nlist - 1]) != 0)
			return -1;
		if (p->t != T_COMMA)
			break;
		if (tq_next(p) != 0)
			return -1;
	}
	return tq_expect(p, T_RBRACK, "',' or ']'");
}

static const char *const func_names[TQ_NFUNCS] = {
	"IS_DEFINED", "IS_NULL",  "IS_BOOL",	  "IS_NUMBER",	 "IS_STRING",
	"IS_OBJECT",  "IS_ARRAY", "IS_PRIMITIVE", "STARTS_WITH", "ENDS_WITH",
};

static int parse_func(struct tq_parser *p, struct tq_node *n)
{
	int f;

	for (f = 0; f < TQ_NFUNCS && !tq_is_kw(p, func_names[f]); f++)
		;
	n->func = (enum tq_func)f;
	n->l.is_path = true;
	if (tq_next(p) != 0 || tq_expect(p, T_LPAREN, "'('") != 0 || parse_path(p, &n->l.path) != 0)
		return -1;
	if (n->func == TQ_STARTS_WITH || n->func == TQ_ENDS_WITH) {
		if (tq_expect(p, T_COMMA, "','") != 0)
			return -1;
		if (p->t != T_STRING)
			return tq_fail(p, p->tpos, false, "expected a string");
		if (parse_literal(p, &n->r) != 0)
			return -1;
	}
	n->end = p->tpos;
	return tq_expect(p, T_RPAREN, "')'");
}

static bool at_func(const struct tq_parser *p)
{
	for (int f = 0; f < TQ_NFUNCS; f++)
		if (tq_is_kw(p, func_names[f]))
			return true;
	return false;
}

static struct tq_node *parse_or(struct tq_parser *p);

/* Each parse_ function returns a new node, or NULL after tq_fail(). */
static struct tq_node *parse_primary(struct tq_parser *p)
{
	struct tq_node *n;
	int rc = -1;

	if (p->t == T_LPAREN) {
		if (++p->depth > TWINQ_DEPTH_MAX) {
			tq_fail(p, p->tpos, true, "nested deeper than %d", TWINQ_DEPTH_MAX);
			return NULL;
		}
		if ((n = node_new(p, TQ_GROUP)) == NULL)
			return NULL;
		if (tq_next(p) == 0) {
			struct tq_node *kid = parse_or(p);
			rc = kid != NULL ? node_add(p, n, kid) : -1;
		}
		if (rc != 0 || tq_expect(p, T_RPAREN, "')'") != 0) {
			node_free(n);
			return NULL;
		}
		p->depth--;
		return n;
	}
	if ((n = node_new(p, at_func(p) ? TQ_FUNC : TQ_CMP)) == NULL)
		return NULL;
	if (n->kind == TQ_FUNC) {
		rc = parse_func(p, n);
	} else if (parse_operand(p, &n->l) != 0) {
		rc = -1;
	} else if (tq_is_kw(p, "IN") || tq_is_kw(p, "NIN")) {
		n->kind = tq_is_kw(p, "NIN") ? TQ_NIN : TQ_IN;
		rc = parse_in(p, n);
	} else if (p->t != T_OP) {
		rc = tq_fail(p, p->tpos, false, "expected a comparison (= != <> < > <= >= IN NIN)");
	} else {
		memcpy(n->op, p->s + p->tpos, p->tlen);
		rc = tq_next(p) != 0 || parse_operand(p, &n->r) != 0 ? -1 : 0;
		n->end = p->tpos;
	}
	if (rc != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

static struct tq_node *parse_not(struct tq_parser *p)
{
	struct tq_node *n, *kid;

	if (!tq_is_kw(p, "NOT"))
		return parse_primary(p);
	if (++p->depth > TWINQ_DEPTH_MAX) {
		tq_fail(p, p->tpos, true, "nested deeper than %d", TWINQ_DEPTH_MAX);
		return NULL;
	}
	if (tq_next(p) != 0 || (n = node_new(p, TQ_NOT)) == NULL)
		return NULL;
	if ((kid = parse_not(p)) == NULL || node_add(p, n, kid) != 0) {
		node_free(n);
		return NULL;
	}
	p->depth--;
	return n;
}

/* term (KW term)*: kind TQ_AND over parse_not, TQ_OR over parse_and. */
static struct tq_node *parse_list(struct tq_parser *p, enum tq_kind kind, const char *kw,
				  struct tq_node *(*term)(struct tq_parser *))
{
	struct tq_node *n = node_new(p, kind), *kid;

	if (n == NULL)
		return NULL;
	for (;;) {
		if ((kid = term(p)) == NULL || node_add(p, n, kid) != 0) {
			node_free(n);
			return NULL;
		}
		if (!tq_is_kw(p, kw))
			return n;
		if (tq_next(p) != 0) {
			node_free(n);
			return NULL;
		}
	}
}

static struct tq_node *parse_and(struct tq_parser *p)
{
	return parse_list(p, TQ_AND, "AND", parse_not);
}

static struct tq_node *parse_or(struct tq_parser *p)
{
	return parse_list(p, TQ_OR, "OR", parse_and);
}

/* ---- SELECT ---------------------------------------------------------------- */

static const char *path_name(const struct tq_path *pa)
{
	static const char *const names[] = {"deviceId", "status",  "etag",    "version",
					    "tags",	"desired", "reported"};

	return pa->nseg ? pa->seg[pa->nseg - 1] : names[pa->root];
}

/* One select item; its column name into *name (new), its position *pos. */
static int parse_item(struct tq_parser *p, struct tq_item *it, char **name, size_t *pos)
{
	memset(it, 0, sizeof *it);
	*pos = p->tpos;
	if (tq_is_kw(p, "COUNT")) {
		it->is_count = true;
		if (tq_next(p) != 0 || tq_expect(p, T_LPAREN, "'('") != 0 ||
		    tq_expect(p, T_RPAREN, "')'") != 0)
			return -1;
	} else if (parse_path(p, &it->path) != 0) {
		return -1;
	}
	if (tq_is_kw(p, "AS")) {
		if (tq_next(p) != 0)
			return -1;
		if (p->t != T_IDENT)
			return tq_fail(p, p->tpos, false, "expected a name after AS");
		*name = strndup(p->s + p->tpos, p->tlen);
		if (*name == NULL || tq_next(p) != 0)
			return *name ? -1 : tq_nomem(p);
	} else {
		*name = strdup(it->is_count ? "$1" : path_name(&it->path));
		if (*name == NULL)
			return tq_nomem(p);
	}
	return 0;
}

static int parse_top(struct tq_parser *p)
{
	char *end;
	long long n;

	p->q->top = -1;
	if (!tq_is_kw(p, "TOP"))
		return 0;
	if (tq_next(p) != 0)
		return -1;
	if (p->t != T_NUMBER)
		return tq_fail(p, p->tpos, false, "expected a count after TOP");
	errno = 0;
	n = strtoll(p->s + p->tpos, &end, 10);
	if (errno != 0 || end != p->s + p->tpos + p->tlen || n < 0 || n > 1000000000)
		return tq_fail(p, p->tpos, false, "TOP takes a whole number 0..1000000000");
	p->q->top = n;
	return tq_next(p);
}

/* The query's kind and columns from the select list, GROUP BY and ORDER BY
 * (names: the columns' names, taken over). */
static int plan_select(struct tq_parser *p, struct tq_query *t, char **names, const size_t *pos,
		       size_t opos)
{
	struct twinq *q = p->q;
	bool counts = false;

	if (t->star) {
		if (t->ngroups > 0)
			return tq_fail(p, p->tpos, false, "GROUP BY needs a select list, not *");
		q->kind = TWINQ_TWINS;
	} else {
		for (size_t i = 0; i < t->nitems; i++)
			counts |= t->items[i].is_count;
		q->kind = counts || t->ngroups ? TWINQ_AGGREGATE : TWINQ_PROJECT;
		q->cols = calloc(t->nitems, sizeof *q->cols);
		if (q->cols == NULL)
			return tq_nomem(p);
	}
	for (size_t i = 0; i < t->nitems; i++) {
		const struct tq_item *it = &t->items[i];
		size_t g;

		for (size_t j = 0; j < i; j++)
			if (strcmp(q->cols[j].name, names[i]) == 0)
				return tq_fail(p, pos[i], false, "two columns named %.64s",
					       names[i]);
		q->cols[i].name = names[i];
		q->cols[i].is_count = it->is_count;
		names[i] = NULL;
		q->ncols++;
		if (q->kind == TWINQ_AGGREGATE && !it->is_count) {
			for (g = 0; g < t->ngroups && !path_equal(&t->groups[g], &it->path); g++)
				;
			if (g == t->ngroups)
				return tq_fail(p, pos[i], false,
					       "a column beside COUNT() must be a GROUP BY path");
		}
	}
	for (size_t j = 0; j < t->ngroups; j++) {
		size_t i;

		for (i = 0; i < t->nitems; i++)
			if (!t->items[i].is_count && path_equal(&t->groups[j], &t->items[i].path))
				break;
		if (i == t->nitems)
			return tq_fail(p, p->tpos, false, "every GROUP BY path must be selected");
		t->group_col[j] = i;
	}
	/* ORDER BY: a stable order over whole twins or projections (keyset
	 * paging on the path's value, then the device ID); one row of groups
	 * or counts has none to give, as in Cosmos DB, whose language IoT
	 * Hub's follows. */
	if (t->has_order && q->kind == TWINQ_AGGREGATE)
		return tq_fail(p, opos, false, "ORDER BY cannot be used with GROUP BY or COUNT()");
	return 0;
}

/* path (, path)* into paths[*n], at most TWINQ_COLS_MAX. */
static int parse_groups(struct tq_parser *p, struct tq_path *paths, size_t *n)
{
	for (;;) {
		if (*n == TWINQ_COLS_MAX)
			return tq_fail(p, p->tpos, true, "more than %d GROUP BY paths",
				       TWINQ_COLS_MAX);
		if (parse_path(p, &paths[*n]) != 0)
			return -1;
		(*n)++;
		if (p->t != T_COMMA)
			return 0;
		if (tq_next(p) != 0)
			return -1;
	}
}

static int parse_order(struct tq_parser *p, struct tq_query *t)
{
	if (tq_next(p) != 0 || tq_expect_kw(p, "BY") != 0 || parse_path(p, &t->order) != 0)
		return -1;
	t->has_order = true;
	if (tq_is_kw(p, "ASC") || tq_is_kw(p, "DESC")) {
		p->q->order_desc = tq_is_kw(p, "DESC");
		if (tq_next(p) != 0)
			return -1;
	} else if (p->t == T_IDENT) {
		return tq_fail(p, p->tpos, false, "expected ASC or DESC after the ORDER BY path");
	}
	if (p->t == T_COMMA)
		return tq_fail(p, p->tpos, false, "ORDER BY takes one path");
	return 0;
}

static int parse_query(struct tq_parser *p, struct tq_query *t)
{
	char *names[TWINQ_COLS_MAX] = {0};
	size_t pos[TWINQ_COLS_MAX], opos = 0;
	int rc = -1;

	if (tq_expect_kw(p, "SELECT") != 0 || parse_top(p) != 0)
		return -1;
	if (p->t == T_STAR) {
		t->star = true;
		if (tq_next(p) != 0)
			return -1;
	} else {
		for (;;) {
			if (t->nitems == TWINQ_COLS_MAX) {
				tq_fail(p, p->tpos, true, "more than %d columns", TWINQ_COLS_MAX);
				goto out;
			}
			t->nitems++;
			if (parse_item(p, &t->items[t->nitems - 1], &names[t->nitems - 1],
				       &pos[t->nitems - 1]) != 0)
				goto out;
			if (p->t != T_COMMA)
				break;
			if (tq_next(p) != 0)
				goto out;
		}
	}
	if (tq_expect_kw(p, "FROM") != 0 || tq_expect_kw(p, "devices") != 0)
		goto out;
	if (tq_is_kw(p, "WHERE") && (tq_next(p) != 0 || (t->where = parse_or(p)) == NULL))
		goto out;
	if (tq_is_kw(p, "GROUP") && (tq_next(p) != 0 || tq_expect_kw(p, "BY") != 0 ||
				     parse_groups(p, t->groups, &t->ngroups) != 0))
		goto out;
	if (tq_is_kw(p, "ORDER")) {
		opos = p->tpos;
		if (parse_order(p, t) != 0)
			goto out;
	}
	if (p->t != T_EOF) {
		tq_fail(p, p->tpos, false, "unexpected text after the query");
		goto out;
	}
	rc = plan_select(p, t, names, pos, opos);
out:
	for (size_t i = 0; i < t->nitems; i++)
		free(names[i]);
	return rc;
}

void tq_query_free(struct tq_query *t)
{
	for (size_t i = 0; i < t->nitems; i++)
		path_free(&t->items[i].path);
	for (size_t i = 0; i < t->ngroups; i++)
		path_free(&t->groups[i]);
	path_free(&t->order);
	node_free(t->where);
	memset(t, 0, sizeof *t);
}

int tq_parse(const char *text, bool whole, struct tq_query *t, struct twinq *q,
	     struct twinq_error *err)
{
	struct tq_parser p = {.s = text, .q = q, .err = err};
	int rc = -1;

	memset(t, 0, sizeof *t);
	t->end = strlen(text);
	if (t->end > TWINQ_TEXT_MAX) {
		tq_fail(&p, TWINQ_TEXT_MAX, true, "a query longer than %d bytes", TWINQ_TEXT_MAX);
		goto out;
	}
	if (!utf8_valid(text, t->end)) {
		tq_fail(&p, 0, false, "the query is not UTF-8");
		goto out;
	}
	if (tq_next(&p) != 0)
		goto out;
	if (whole) {
		rc = parse_query(&p, t);
	} else if ((t->where = parse_or(&p)) != NULL) {
		rc = p.t == T_EOF
			     ? 0
			     : tq_fail(&p, p.tpos, false, "unexpected text after the condition");
	}
out:
	free(p.tstr);
	return rc;
}
