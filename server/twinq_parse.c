/* The twin query language's lexer and parser: query text to the syntax
 * tree of server/twinq_ast.h, with every rule the text alone decides. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "server/twinq_ast.h"

enum tok {
	T_EOF,
	T_IDENT,
	T_STRING,
	T_NUMBER,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_DOT,
	T_STAR,
	T_OP,
};

struct parser {
	const char *s;
	size_t pos;
	int depth;
	/* the current token */
	enum tok t;
	size_t tpos, tlen;
	char *tstr; /* decoded T_STRING */
	struct twinq *q;
	struct twinq_error *err;
	bool failed;
};

static int fail(struct parser *p, size_t pos, bool limit, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct parser *p, size_t pos, bool limit, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	p->err->pos = pos;
	p->err->too_complex = limit;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static int nomem(struct parser *p)
{
	return fail(p, p->tpos, false, "out of memory");
}

char *tq_json_text(json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(v);
	return s;
}

/* ---- lexer --------------------------------------------------------------- */

/* Names are ASCII letters, digits, _ $ - and any non-ASCII character
 * (twin keys may be Unicode; the text was checked to be UTF-8). */
static bool ident_start(int c)
{
	return isalpha(c) || c == '_' || c == '$' || c >= 0x80;
}

static bool ident_char(int c)
{
	return isalnum(c) || c == '_' || c == '$' || c == '-' || c >= 0x80;
}

static int hex4(const char *s, unsigned *out_cp)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out_cp = v;
	return 0;
}

static int put_utf8(struct buf *b, unsigned cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(b, u, n);
}

/* A quoted string from p->pos (at the quote) into p->tstr. */
static int lex_string(struct parser *p)
{
	char q = p->s[p->pos];
	size_t i = p->pos + 1;
	struct buf b;

	buf_init(&b, TWINQ_STRING_MAX);
	for (;;) {
		unsigned char c = (unsigned char)p->s[i];
		unsigned cp;

		if (c == '\0') {
			buf_free(&b);
			return fail(p, p->pos, false, "unterminated string");
		}
		if (c == (unsigned char)q) {
			i++;
			break;
		}
		if (c < 0x20) {
			buf_free(&b);
			return fail(p, i, false, "a control character in a string");
		}
		if (c != '\\') {
			if (buf_add(&b, &c, 1) != 0)
				goto toolong;
			i++;
			continue;
		}
		c = (unsigned char)p->s[i + 1];
		switch (c) {
		case '\'':
		case '"':
		case '\\':
		case '/': cp = c; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (hex4(p->s + i + 2, &cp) != 0)
				goto badesc;
			if (cp >= 0xd800 && cp < 0xdc00) {
				unsigned lo;

				if (p->s[i + 6] != '\\' || p->s[i + 7] != 'u' ||
				    hex4(p->s + i + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
					goto badesc;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
				goto badesc;
			}
			i += 4;
			break;
		default: goto badesc;
		}
		if (put_utf8(&b, cp) != 0)
			goto toolong;
		i += 2;
	}
	free(p->tstr);
	p->tstr = strndup(b.data ? (char *)b.data : "", b.len);
	buf_free(&b);
	if (p->tstr == NULL)
		return nomem(p);
	p->t = T_STRING;
	p->tlen = i - p->pos;
	return 0;
badesc:
	buf_free(&b);
	return fail(p, i, false, "a bad escape in a string");
toolong:
	buf_free(&b);
	return fail(p, p->pos, true, "a string longer than %d bytes", TWINQ_STRING_MAX);
}

/* A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]{1,4})? */
static int lex_number(struct parser *p)
{
	const char *s = p->s + p->pos;
	size_t i = 0, e;

	if (s[i] == '-')
		i++;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (isdigit((unsigned char)s[i]))
			i++;
	else
		return fail(p, p->pos, false, "a malformed number");
	if (s[i] == '.') {
		i++;
		if (!isdigit((unsigned char)s[i]))
			return fail(p, p->pos, false, "a malformed number");
		while (isdigit((unsigned char)s[i]))
			i++;
	}
	if (s[i] == 'e' || s[i] == 'E') {
		i++;
		if (s[i] == '+' || s[i] == '-')
			i++;
		e = i;
		while (isdigit((unsigned char)s[i]))
			i++;
		if (i == e || i - e > 4)
			return fail(p, p->pos, false, "a malformed number");
	}
	if (ident_char((unsigned char)s[i]) || s[i] == '.')
		return fail(p, p->pos, false, "a malformed number");
	if (i > 64)
		return fail(p, p->pos, true, "a number longer than 64 characters");
	p->t = T_NUMBER;
	p->tlen = i;
	return 0;
}

/* Reads the next token into p->t. */
static int next(struct parser *p)
{
	const char *s;

	p->pos += p->tlen;
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
	       p->s[p->pos] == '\r')
		p->pos++;
	s = p->s + p->pos;
	p->tpos = p->pos;
	p->tlen = 1;
	switch (*s) {
	case '\0':
		p->t = T_EOF;
		p->tlen = 0;
		return 0;
	case '(': p->t = T_LPAREN; return 0;
	case ')': p->t = T_RPAREN; return 0;
	case '[': p->t = T_LBRACK; return 0;
	case ']': p->t = T_RBRACK; return 0;
	case ',': p->t = T_COMMA; return 0;
	case '.': p->t = T_DOT; return 0;
	case '*': p->t = T_STAR; return 0;
	case '=': p->t = T_OP; return 0;
	case '<':
	case '>':
		p->t = T_OP;
		if (s[1] == '=' || (s[0] == '<' && s[1] == '>'))
			p->tlen = 2;
		return 0;
	case '!':
		if (s[1] != '=')
			return fail(p, p->pos, false, "unexpected '!'");
		p->t = T_OP;
		p->tlen = 2;
		return 0;
	case '\'':
	case '"': return lex_string(p);
	default: break;
	}
	if (*s == '-' || isdigit((unsigned char)*s))
		return lex_number(p);
	if (ident_start((unsigned char)*s)) {
		size_t n = 1;

		while (ident_char((unsigned char)s[n]))
			n++;
		if (n > 1024)
			return fail(p, p->pos, true, "a name longer than 1024 bytes");
		p->t = T_IDENT;
		p->tlen = n;
		return 0;
	}
	return fail(p, p->pos, false, "unexpected character");
}

static bool is_kw(const struct parser *p, const char *kw)
{
	return p->t == T_IDENT && p->tlen == strlen(kw) &&
	       strncasecmp(p->s + p->tpos, kw, p->tlen) == 0;
}

static int expect_kw(struct parser *p, const char *kw)
{
	if (!is_kw(p, kw))
		return fail(p, p->tpos, false, "expected %s", kw);
	return next(p);
}

static int expect(struct parser *p, enum tok t, const char *what)
{
	if (p->t != t)
		return fail(p, p->tpos, false, "expected %s", what);
	return next(p);
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

static int segment(struct parser *p, struct tq_path *pa)
{
	if (p->t != T_IDENT)
		return fail(p, p->tpos, false, "expected a property name");
	if (pa->nseg >= TWINQ_PATH_MAX)
		return fail(p, p->tpos, true, "a path deeper than %d", TWINQ_PATH_MAX);
	pa->seg[pa->nseg] = strndup(p->s + p->tpos, p->tlen);
	if (pa->seg[pa->nseg] == NULL)
		return nomem(p);
	pa->nseg++;
	return next(p);
}

/* root(.name)*: the roots are the twin's members. */
static int parse_path(struct parser *p, struct tq_path *pa)
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
		if (is_kw(p, roots[i].name))
			break;
	if (i < sizeof roots / sizeof roots[0]) {
		pa->root = roots[i].root;
		if (next(p) != 0)
			return -1;
	} else if (is_kw(p, "properties")) {
		if (next(p) != 0 || expect(p, T_DOT, "'.' after properties") != 0)
			return -1;
		if (is_kw(p, "desired"))
			pa->root = TQ_DESIRED;
		else if (is_kw(p, "reported"))
			pa->root = TQ_REPORTED;
		else
			return fail(p, p->tpos, false, "expected desired or reported");
		if (next(p) != 0)
			return -1;
	} else {
		return fail(p, p->tpos, false,
			    "expected deviceId, status, etag, version, tags or properties");
	}
	while (p->t == T_DOT) {
		if (pa->root < TQ_TAGS)
			return fail(p, p->tpos, false, "%s has no members", roots[pa->root].name);
		if (next(p) != 0 || segment(p, pa) != 0) {
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

static struct tq_node *node_new(struct parser *p, enum tq_kind kind)
{
	struct tq_node *n = calloc(1, sizeof *n);

	if (n == NULL)
		nomem(p);
	else
		n->kind = kind;
	return n;
}

/* Appends kid (owned) to n; -1 (kid freed) when out of memory. */
static int node_add(struct parser *p, struct tq_node *n, struct tq_node *kid)
{
	struct tq_node **k = realloc(n->kids, (n->nkids + 1) * sizeof *k);

	if (k == NULL) {
		node_free(kid);
		return nomem(p);
	}
	n->kids = k;
	k[n->nkids++] = kid;
	return 0;
}

static bool at_literal(const struct parser *p)
{
	return p->t == T_STRING || p->t == T_NUMBER || is_kw(p, "true") || is_kw(p, "false") ||
	       is_kw(p, "null");
}

static int parse_literal(struct parser *p, struct tq_operand *o)
{
	if (p->t == T_STRING) {
		o->json = tq_json_text(json_string(p->tstr));
		o->str = strdup(p->tstr);
		if (o->str == NULL)
			return nomem(p);
	} else if (p->t == T_NUMBER) {
		o->json = strndup(p->s + p->tpos, p->tlen);
	} else if (is_kw(p, "true")) {
		o->json = strdup("true");
	} else if (is_kw(p, "false")) {
		o->json = strdup("false");
	} else if (is_kw(p, "null")) {
		o->json = strdup("null");
	} else {
		return fail(p, p->tpos, false, "expected a literal");
	}
	if (o->json == NULL)
		return nomem(p);
	if (next(p) != 0)
		return -1;
	o->end = p->tpos;
	return 0;
}

static int parse_operand(struct parser *p, struct tq_operand *o)
{
	memset(o, 0, sizeof *o);
	if (at_literal(p))
		return parse_literal(p, o);
	o->is_path = true;
	return parse_path(p, &o->path);
}

/* IN [..] / NIN [..] after the operand n->l. */
static int parse_in(struct parser *p, struct tq_node *n)
{
	if (next(p) != 0 || expect(p, T_LBRACK, "'[' after IN") != 0)
		return -1;
	n->end = p->tpos;
	for (;;) {
		struct tq_operand *l = realloc(n->list, (n->nlist + 1) * sizeof *l);

		if (l == NULL)
			return nomem(p);
		n->list = l;
		memset(&l[n->nlist], 0, sizeof *l);
		n->nlist++;
		if (parse_literal(p, &l[n->nlist - 1]) != 0)
			return -1;
		if (p->t != T_COMMA)
			break;
		if (next(p) != 0)
			return -1;
	}
	return expect(p, T_RBRACK, "',' or ']'");
}

static const char *const func_names[TQ_NFUNCS] = {
	"IS_DEFINED", "IS_NULL",  "IS_BOOL",	  "IS_NUMBER",	 "IS_STRING",
	"IS_OBJECT",  "IS_ARRAY", "IS_PRIMITIVE", "STARTS_WITH", "ENDS_WITH",
};

static int parse_func(struct parser *p, struct tq_node *n)
{
	int f;

	for (f = 0; f < TQ_NFUNCS && !is_kw(p, func_names[f]); f++)
		;
	n->func = (enum tq_func)f;
	n->l.is_path = true;
	if (next(p) != 0 || expect(p, T_LPAREN, "'('") != 0 || parse_path(p, &n->l.path) != 0)
		return -1;
	if (n->func == TQ_STARTS_WITH || n->func == TQ_ENDS_WITH) {
		if (expect(p, T_COMMA, "','") != 0)
			return -1;
		if (p->t != T_STRING)
			return fail(p, p->tpos, false, "expected a string");
		if (parse_literal(p, &n->r) != 0)
			return -1;
	}
	n->end = p->tpos;
	return expect(p, T_RPAREN, "')'");
}

static bool at_func(const struct parser *p)
{
	for (int f = 0; f < TQ_NFUNCS; f++)
		if (is_kw(p, func_names[f]))
			return true;
	return false;
}

static struct tq_node *parse_or(struct parser *p);

/* Each parse_ function returns a new node, or NULL after fail(). */
static struct tq_node *parse_primary(struct parser *p)
{
	struct tq_node *n;
	int rc = -1;

	if (p->t == T_LPAREN) {
		if (++p->depth > TWINQ_DEPTH_MAX) {
			fail(p, p->tpos, true, "nested deeper than %d", TWINQ_DEPTH_MAX);
			return NULL;
		}
		if ((n = node_new(p, TQ_GROUP)) == NULL)
			return NULL;
		if (next(p) == 0) {
			struct tq_node *kid = parse_or(p);
			rc = kid != NULL ? node_add(p, n, kid) : -1;
		}
		if (rc != 0 || expect(p, T_RPAREN, "')'") != 0) {
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
	} else if (is_kw(p, "IN") || is_kw(p, "NIN")) {
		n->kind = is_kw(p, "NIN") ? TQ_NIN : TQ_IN;
		rc = parse_in(p, n);
	} else if (p->t != T_OP) {
		rc = fail(p, p->tpos, false, "expected a comparison (= != <> < > <= >= IN NIN)");
	} else {
		memcpy(n->op, p->s + p->tpos, p->tlen);
		rc = next(p) != 0 || parse_operand(p, &n->r) != 0 ? -1 : 0;
		n->end = p->tpos;
	}
	if (rc != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

static struct tq_node *parse_not(struct parser *p)
{
	struct tq_node *n, *kid;

	if (!is_kw(p, "NOT"))
		return parse_primary(p);
	if (++p->depth > TWINQ_DEPTH_MAX) {
		fail(p, p->tpos, true, "nested deeper than %d", TWINQ_DEPTH_MAX);
		return NULL;
	}
	if (next(p) != 0 || (n = node_new(p, TQ_NOT)) == NULL)
		return NULL;
	if ((kid = parse_not(p)) == NULL || node_add(p, n, kid) != 0) {
		node_free(n);
		return NULL;
	}
	p->depth--;
	return n;
}

/* term (KW term)*: kind TQ_AND over parse_not, TQ_OR over parse_and. */
static struct tq_node *parse_list(struct parser *p, enum tq_kind kind, const char *kw,
				  struct tq_node *(*term)(struct parser *))
{
	struct tq_node *n = node_new(p, kind), *kid;

	if (n == NULL)
		return NULL;
	for (;;) {
		if ((kid = term(p)) == NULL || node_add(p, n, kid) != 0) {
			node_free(n);
			return NULL;
		}
		if (!is_kw(p, kw))
			return n;
		if (next(p) != 0) {
			node_free(n);
			return NULL;
		}
	}
}

static struct tq_node *parse_and(struct parser *p)
{
	return parse_list(p, TQ_AND, "AND", parse_not);
}

static struct tq_node *parse_or(struct parser *p)
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
static int parse_item(struct parser *p, struct tq_item *it, char **name, size_t *pos)
{
	memset(it, 0, sizeof *it);
	*pos = p->tpos;
	if (is_kw(p, "COUNT")) {
		it->is_count = true;
		if (next(p) != 0 || expect(p, T_LPAREN, "'('") != 0 ||
		    expect(p, T_RPAREN, "')'") != 0)
			return -1;
	} else if (parse_path(p, &it->path) != 0) {
		return -1;
	}
	if (is_kw(p, "AS")) {
		if (next(p) != 0)
			return -1;
		if (p->t != T_IDENT)
			return fail(p, p->tpos, false, "expected a name after AS");
		*name = strndup(p->s + p->tpos, p->tlen);
		if (*name == NULL || next(p) != 0)
			return *name ? -1 : nomem(p);
	} else {
		*name = strdup(it->is_count ? "$1" : path_name(&it->path));
		if (*name == NULL)
			return nomem(p);
	}
	return 0;
}

static int parse_top(struct parser *p)
{
	char *end;
	long long n;

	p->q->top = -1;
	if (!is_kw(p, "TOP"))
		return 0;
	if (next(p) != 0)
		return -1;
	if (p->t != T_NUMBER)
		return fail(p, p->tpos, false, "expected a count after TOP");
	errno = 0;
	n = strtoll(p->s + p->tpos, &end, 10);
	if (errno != 0 || end != p->s + p->tpos + p->tlen || n < 0 || n > 1000000000)
		return fail(p, p->tpos, false, "TOP takes a whole number 0..1000000000");
	p->q->top = n;
	return next(p);
}

/* The query's kind and columns from the select list, GROUP BY and ORDER BY
 * (names: the columns' names, taken over). */
static int plan_select(struct parser *p, struct tq_query *t, char **names, const size_t *pos,
		       size_t opos)
{
	struct twinq *q = p->q;
	bool counts = false;

	if (t->star) {
		if (t->ngroups > 0)
			return fail(p, p->tpos, false, "GROUP BY needs a select list, not *");
		q->kind = TWINQ_TWINS;
	} else {
		for (size_t i = 0; i < t->nitems; i++)
			counts |= t->items[i].is_count;
		q->kind = counts || t->ngroups ? TWINQ_AGGREGATE : TWINQ_PROJECT;
		q->cols = calloc(t->nitems, sizeof *q->cols);
		if (q->cols == NULL)
			return nomem(p);
	}
	for (size_t i = 0; i < t->nitems; i++) {
		const struct tq_item *it = &t->items[i];
		size_t g;

		for (size_t j = 0; j < i; j++)
			if (strcmp(q->cols[j].name, names[i]) == 0)
				return fail(p, pos[i], false, "two columns named %.64s", names[i]);
		q->cols[i].name = names[i];
		q->cols[i].is_count = it->is_count;
		names[i] = NULL;
		q->ncols++;
		if (q->kind == TWINQ_AGGREGATE && !it->is_count) {
			for (g = 0; g < t->ngroups && !path_equal(&t->groups[g], &it->path); g++)
				;
			if (g == t->ngroups)
				return fail(p, pos[i], false,
					    "a column beside COUNT() must be a GROUP BY path");
		}
	}
	for (size_t j = 0; j < t->ngroups; j++) {
		size_t i;

		for (i = 0; i < t->nitems; i++)
			if (!t->items[i].is_count && path_equal(&t->groups[j], &t->items[i].path))
				break;
		if (i == t->nitems)
			return fail(p, p->tpos, false, "every GROUP BY path must be selected");
		t->group_col[j] = i;
	}
	/* ORDER BY: a stable order over whole twins or projections (keyset
	 * paging on the path's value, then the device ID); one row of groups
	 * or counts has none to give, as in Cosmos DB, whose language IoT
	 * Hub's follows. */
	if (t->has_order && q->kind == TWINQ_AGGREGATE)
		return fail(p, opos, false, "ORDER BY cannot be used with GROUP BY or COUNT()");
	return 0;
}

/* path (, path)* into paths[*n], at most TWINQ_COLS_MAX. */
static int parse_groups(struct parser *p, struct tq_path *paths, size_t *n)
{
	for (;;) {
		if (*n == TWINQ_COLS_MAX)
			return fail(p, p->tpos, true, "more than %d GROUP BY paths",
				    TWINQ_COLS_MAX);
		if (parse_path(p, &paths[*n]) != 0)
			return -1;
		(*n)++;
		if (p->t != T_COMMA)
			return 0;
		if (next(p) != 0)
			return -1;
	}
}

static int parse_order(struct parser *p, struct tq_query *t)
{
	if (next(p) != 0 || expect_kw(p, "BY") != 0 || parse_path(p, &t->order) != 0)
		return -1;
	t->has_order = true;
	if (is_kw(p, "ASC") || is_kw(p, "DESC")) {
		p->q->order_desc = is_kw(p, "DESC");
		if (next(p) != 0)
			return -1;
	} else if (p->t == T_IDENT) {
		return fail(p, p->tpos, false, "expected ASC or DESC after the ORDER BY path");
	}
	if (p->t == T_COMMA)
		return fail(p, p->tpos, false, "ORDER BY takes one path");
	return 0;
}

static int parse_query(struct parser *p, struct tq_query *t)
{
	char *names[TWINQ_COLS_MAX] = {0};
	size_t pos[TWINQ_COLS_MAX], opos = 0;
	int rc = -1;

	if (expect_kw(p, "SELECT") != 0 || parse_top(p) != 0)
		return -1;
	if (p->t == T_STAR) {
		t->star = true;
		if (next(p) != 0)
			return -1;
	} else {
		for (;;) {
			if (t->nitems == TWINQ_COLS_MAX) {
				fail(p, p->tpos, true, "more than %d columns", TWINQ_COLS_MAX);
				goto out;
			}
			t->nitems++;
			if (parse_item(p, &t->items[t->nitems - 1], &names[t->nitems - 1],
				       &pos[t->nitems - 1]) != 0)
				goto out;
			if (p->t != T_COMMA)
				break;
			if (next(p) != 0)
				goto out;
		}
	}
	if (expect_kw(p, "FROM") != 0 || expect_kw(p, "devices") != 0)
		goto out;
	if (is_kw(p, "WHERE") && (next(p) != 0 || (t->where = parse_or(p)) == NULL))
		goto out;
	if (is_kw(p, "GROUP") && (next(p) != 0 || expect_kw(p, "BY") != 0 ||
				  parse_groups(p, t->groups, &t->ngroups) != 0))
		goto out;
	if (is_kw(p, "ORDER")) {
		opos = p->tpos;
		if (parse_order(p, t) != 0)
			goto out;
	}
	if (p->t != T_EOF) {
		fail(p, p->tpos, false, "unexpected text after the query");
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
	struct parser p = {.s = text, .q = q, .err = err};
	int rc = -1;

	memset(t, 0, sizeof *t);
	t->end = strlen(text);
	if (t->end > TWINQ_TEXT_MAX) {
		fail(&p, TWINQ_TEXT_MAX, true, "a query longer than %d bytes", TWINQ_TEXT_MAX);
		goto out;
	}
	if (!utf8_valid(text, t->end)) {
		fail(&p, 0, false, "the query is not UTF-8");
		goto out;
	}
	if (next(&p) != 0)
		goto out;
	if (whole) {
		rc = parse_query(&p, t);
	} else if ((t->where = parse_or(&p)) != NULL) {
		rc = p.t == T_EOF ? 0
				  : fail(&p, p.tpos, false, "unexpected text after the condition");
	}
out:
	free(p.tstr);
	return rc;
}
