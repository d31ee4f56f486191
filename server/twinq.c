/* The IoT Hub twin query language: a recursive-descent parser that emits
 * SQL over the twins table as it goes. Literals and path segments become
 * bind parameters, never SQL text; comparisons follow IoT Hub (a number
 * against a string is false, not an error; an undefined path matches no
 * comparison). */
#include "server/twinq.h"

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

#define SQL_MAX (256 * 1024)

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

enum root { R_DEVICEID, R_STATUS, R_ETAG, R_VERSION, R_TAGS, R_DESIRED, R_REPORTED };

struct path {
	enum root root;
	char *seg[TWINQ_PATH_MAX];
	int nseg;
};

/* A literal as JSON text (strings already escaped by jansson). */
struct operand {
	bool is_path;
	struct path path;
	char *json;
	char *str; /* the decoded string of a string literal, else NULL */
	size_t pos;
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
	size_t base; /* parameters are numbered from base + 1 */
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

/* ---- output -------------------------------------------------------------- */

static int out(struct parser *p, struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int out(struct parser *p, struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return nomem(p);
	if (buf_add(b, tmp, (size_t)n) != 0)
		return fail(p, p->tpos, true, "the query compiles to too much SQL");
	return 0;
}

/* Takes value (owned) as the next parameter; returns its number or -1. */
static int param(struct parser *p, char *value)
{
	char **np;

	if (value == NULL)
		return nomem(p);
	if (p->q->nparams >= TWINQ_PARAMS_MAX) {
		free(value);
		return fail(p, p->tpos, true, "more than %d literals and path segments",
			    TWINQ_PARAMS_MAX);
	}
	np = realloc(p->q->params, (p->q->nparams + 1) * sizeof *np);
	if (np == NULL) {
		free(value);
		return nomem(p);
	}
	p->q->params = np;
	np[p->q->nparams++] = value;
	return (int)(p->base + p->q->nparams);
}

static char *json_text(json_t *v)
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

static void path_free(struct path *pa)
{
	for (int i = 0; i < pa->nseg; i++)
		free(pa->seg[i]);
	pa->nseg = 0;
}

static bool path_equal(const struct path *a, const struct path *b)
{
	if (a->root != b->root || a->nseg != b->nseg)
		return false;
	for (int i = 0; i < a->nseg; i++)
		if (strcmp(a->seg[i], b->seg[i]) != 0)
			return false;
	return true;
}

static int segment(struct parser *p, struct path *pa)
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
static int parse_path(struct parser *p, struct path *pa)
{
	static const struct {
		const char *name;
		enum root root;
	} roots[] = {{"deviceId", R_DEVICEID},
		     {"status", R_STATUS},
		     {"etag", R_ETAG},
		     {"version", R_VERSION},
		     {"tags", R_TAGS}};
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
			pa->root = R_DESIRED;
		else if (is_kw(p, "reported"))
			pa->root = R_REPORTED;
		else
			return fail(p, p->tpos, false, "expected desired or reported");
		if (next(p) != 0)
			return -1;
	} else {
		return fail(p, p->tpos, false,
			    "expected deviceId, status, etag, version, tags or properties");
	}
	while (p->t == T_DOT) {
		if (pa->root < R_TAGS)
			return fail(p, p->tpos, false, "%s has no members", roots[pa->root].name);
		if (next(p) != 0 || segment(p, pa) != 0) {
			path_free(pa);
			return -1;
		}
	}
	return 0;
}

static const char *root_column(enum root r)
{
	switch (r) {
	case R_DEVICEID: return "device_id";
	case R_STATUS: return "status";
	case R_ETAG: return "etag";
	case R_VERSION: return "version";
	case R_TAGS: return "tags";
	case R_DESIRED: return "desired";
	default: return "reported";
	}
}

/* The path's value as a jsonb expression (SQL NULL when undefined). */
static int emit_path(struct parser *p, struct buf *b, const struct path *pa)
{
	if (pa->root < R_TAGS)
		return out(p, b, "to_jsonb(%s)", root_column(pa->root));
	if (pa->nseg == 0)
		return out(p, b, "%s", root_column(pa->root));
	if (out(p, b, "(%s #> ARRAY[", root_column(pa->root)) != 0)
		return -1;
	for (int i = 0; i < pa->nseg; i++) {
		char *v = strdup(pa->seg[i]);
		int n = param(p, v);

		if (n < 0 || out(p, b, "%s$%d::text", i ? "," : "", n) != 0)
			return -1;
	}
	return out(p, b, "])");
}

/* ---- operands and conditions ------------------------------------------- */

static void operand_free(struct operand *o)
{
	path_free(&o->path);
	free(o->json);
	free(o->str);
	memset(o, 0, sizeof *o);
}

static bool at_literal(const struct parser *p)
{
	return p->t == T_STRING || p->t == T_NUMBER || is_kw(p, "true") || is_kw(p, "false") ||
	       is_kw(p, "null");
}

static int parse_literal(struct parser *p, struct operand *o)
{
	o->pos = p->tpos;
	if (p->t == T_STRING) {
		o->json = json_text(json_string(p->tstr));
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
	return next(p);
}

static int parse_operand(struct parser *p, struct operand *o)
{
	memset(o, 0, sizeof *o);
	o->pos = p->tpos;
	if (at_literal(p))
		return parse_literal(p, o);
	o->is_path = true;
	return parse_path(p, &o->path);
}

static int emit_operand(struct parser *p, struct buf *b, const struct operand *o)
{
	int n;

	if (o->is_path)
		return emit_path(p, b, &o->path);
	n = param(p, strdup(o->json));
	return n < 0 ? -1 : out(p, b, "$%d::jsonb", n);
}

/* {"a":{"b":LIT}} for a containment test the GIN index answers. */
static char *containment(const struct path *pa, const char *lit)
{
	struct buf b;
	char *r = NULL;
	int ok = 1;

	buf_init(&b, SQL_MAX);
	for (int i = 0; i < pa->nseg && ok; i++) {
		char *k = json_text(json_string(pa->seg[i]));

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

static int emit_compare(struct parser *p, struct buf *b, const struct operand *l, const char *op,
			const struct operand *r)
{
	const struct operand *pa = l->is_path ? l : r, *lit = l->is_path ? r : l;
	int n;

	if (strcmp(op, "=") == 0 && pa->is_path && !lit->is_path && pa->path.root >= R_TAGS &&
	    pa->path.nseg > 0) {
		/* Containment lets the GIN index find candidates; the equality
		 * keeps the meaning exact. */
		n = param(p, containment(&pa->path, lit->json));
		if (n < 0 ||
		    out(p, b, "(%s @> $%d::jsonb AND ", root_column(pa->path.root), n) != 0 ||
		    emit_path(p, b, &pa->path) != 0 || out(p, b, " = ") != 0 ||
		    emit_operand(p, b, lit) != 0)
			return -1;
		return out(p, b, ")");
	}
	if (strcmp(op, "=") == 0 && pa->is_path && !lit->is_path && pa->path.root == R_DEVICEID &&
	    lit->str != NULL) {
		n = param(p, strdup(lit->str));
		return n < 0 ? -1 : out(p, b, "(device_id = $%d::text)", n);
	}
	if (strcmp(op, "=") == 0 || strcmp(op, "!=") == 0 || strcmp(op, "<>") == 0) {
		if (out(p, b, "COALESCE(") != 0 || emit_operand(p, b, l) != 0 ||
		    out(p, b, " %s ", op[0] == '=' ? "=" : "<>") != 0 || emit_operand(p, b, r) != 0)
			return -1;
		return out(p, b, ", false)");
	}
	/* Ordering: numbers with numbers, strings with strings, else false. */
	if (out(p, b, "COALESCE(jsonb_typeof(") != 0 || emit_operand(p, b, l) != 0 ||
	    out(p, b, ") IN ('number', 'string') AND jsonb_typeof(") != 0 ||
	    emit_operand(p, b, l) != 0 || out(p, b, ") = jsonb_typeof(") != 0 ||
	    emit_operand(p, b, r) != 0 || out(p, b, ") AND ") != 0 || emit_operand(p, b, l) != 0 ||
	    out(p, b, " %s ", op) != 0 || emit_operand(p, b, r) != 0)
		return -1;
	return out(p, b, ", false)");
}

/* IN [..] / NIN [..] after the operand l. */
static int parse_in(struct parser *p, struct buf *b, const struct operand *l, bool negate)
{
	int count = 0;

	if (next(p) != 0 || expect(p, T_LBRACK, "'[' after IN") != 0)
		return -1;
	if (out(p, b, "COALESCE(") != 0 || emit_operand(p, b, l) != 0 ||
	    out(p, b, negate ? " <> ALL(ARRAY[" : " = ANY(ARRAY[") != 0)
		return -1;
	for (;;) {
		struct operand lit = {0};
		int rc = parse_literal(p, &lit);

		if (rc == 0)
			rc = out(p, b, "%s", count ? ", " : "");
		if (rc == 0)
			rc = emit_operand(p, b, &lit);
		operand_free(&lit);
		if (rc != 0)
			return -1;
		count++;
		if (p->t != T_COMMA)
			break;
		if (next(p) != 0)
			return -1;
	}
	if (expect(p, T_RBRACK, "',' or ']'") != 0)
		return -1;
	return out(p, b, "]), false)");
}

static const struct {
	const char *name;
	const char *types; /* NULL: IS_DEFINED */
} type_funcs[] = {
	{"IS_DEFINED", NULL},	   {"IS_NULL", "'null'"},
	{"IS_BOOL", "'boolean'"},  {"IS_NUMBER", "'number'"},
	{"IS_STRING", "'string'"}, {"IS_OBJECT", "'object'"},
	{"IS_ARRAY", "'array'"},   {"IS_PRIMITIVE", "'string', 'number', 'boolean', 'null'"},
};

static int parse_func(struct parser *p, struct buf *b)
{
	bool starts = is_kw(p, "STARTS_WITH"), ends = is_kw(p, "ENDS_WITH");
	size_t i, nf = sizeof type_funcs / sizeof type_funcs[0];
	struct path pa;
	int rc = -1, n;

	for (i = 0; i < nf && !is_kw(p, type_funcs[i].name); i++)
		;
	if (next(p) != 0 || expect(p, T_LPAREN, "'('") != 0 || parse_path(p, &pa) != 0)
		return -1;
	if (starts || ends) {
		struct operand lit = {0};

		if (expect(p, T_COMMA, "','") != 0)
			goto out;
		if (p->t != T_STRING) {
			fail(p, p->tpos, false, "expected a string");
			goto out;
		}
		if (parse_literal(p, &lit) != 0)
			goto out;
		n = param(p, strdup(lit.str));
		operand_free(&lit);
		if (n < 0 || out(p, b, "COALESCE(jsonb_typeof(") != 0 ||
		    emit_path(p, b, &pa) != 0 || out(p, b, ") = 'string' AND ") != 0)
			goto out;
		if (starts && (out(p, b, "starts_with(") != 0 || emit_path(p, b, &pa) != 0 ||
			       out(p, b, " #>> '{}', $%d::text)", n) != 0))
			goto out;
		if (ends &&
		    (out(p, b, "right(") != 0 || emit_path(p, b, &pa) != 0 ||
		     out(p, b, " #>> '{}', char_length($%d::text)) = $%d::text", n, n) != 0))
			goto out;
		if (out(p, b, ", false)") != 0)
			goto out;
	} else if (type_funcs[i].types == NULL) {
		if (out(p, b, "(") != 0 || emit_path(p, b, &pa) != 0 ||
		    out(p, b, " IS NOT NULL)") != 0)
			goto out;
	} else {
		if (out(p, b, "COALESCE(jsonb_typeof(") != 0 || emit_path(p, b, &pa) != 0 ||
		    out(p, b, ") IN (%s), false)", type_funcs[i].types) != 0)
			goto out;
	}
	rc = expect(p, T_RPAREN, "')'");
out:
	path_free(&pa);
	return rc;
}

static bool at_func(const struct parser *p)
{
	for (size_t i = 0; i < sizeof type_funcs / sizeof type_funcs[0]; i++)
		if (is_kw(p, type_funcs[i].name))
			return true;
	return is_kw(p, "STARTS_WITH") || is_kw(p, "ENDS_WITH");
}

static int parse_or(struct parser *p, struct buf *b);

static int parse_primary(struct parser *p, struct buf *b)
{
	struct operand l = {0}, r = {0};
	char op[3] = "";
	int rc = -1;

	if (p->t == T_LPAREN) {
		if (++p->depth > TWINQ_DEPTH_MAX)
			return fail(p, p->tpos, true, "nested deeper than %d", TWINQ_DEPTH_MAX);
		if (next(p) != 0 || out(p, b, "(") != 0 || parse_or(p, b) != 0 ||
		    expect(p, T_RPAREN, "')'") != 0)
			return -1;
		p->depth--;
		return out(p, b, ")");
	}
	if (at_func(p))
		return parse_func(p, b);
	if (parse_operand(p, &l) != 0)
		goto out;
	if (is_kw(p, "IN") || is_kw(p, "NIN")) {
		rc = parse_in(p, b, &l, is_kw(p, "NIN"));
		goto out;
	}
	if (p->t != T_OP) {
		fail(p, p->tpos, false, "expected a comparison (= != <> < > <= >= IN NIN)");
		goto out;
	}
	memcpy(op, p->s + p->tpos, p->tlen);
	if (next(p) != 0 || parse_operand(p, &r) != 0)
		goto out;
	rc = emit_compare(p, b, &l, op, &r);
out:
	operand_free(&l);
	operand_free(&r);
	return rc;
}

static int parse_not(struct parser *p, struct buf *b)
{
	int rc;

	if (!is_kw(p, "NOT"))
		return parse_primary(p, b);
	if (++p->depth > TWINQ_DEPTH_MAX)
		return fail(p, p->tpos, true, "nested deeper than %d", TWINQ_DEPTH_MAX);
	if (next(p) != 0 || out(p, b, "(NOT ") != 0)
		return -1;
	rc = parse_not(p, b);
	p->depth--;
	return rc != 0 ? -1 : out(p, b, ")");
}

static int parse_and(struct parser *p, struct buf *b)
{
	if (parse_not(p, b) != 0)
		return -1;
	while (is_kw(p, "AND"))
		if (next(p) != 0 || out(p, b, " AND ") != 0 || parse_not(p, b) != 0)
			return -1;
	return 0;
}

static int parse_or(struct parser *p, struct buf *b)
{
	if (out(p, b, "(") != 0 || parse_and(p, b) != 0)
		return -1;
	while (is_kw(p, "OR"))
		if (next(p) != 0 || out(p, b, " OR ") != 0 || parse_and(p, b) != 0)
			return -1;
	return out(p, b, ")");
}

/* ---- SELECT ---------------------------------------------------------------- */

struct item {
	bool is_count;
	struct path path;
	char *name;
	size_t pos;
};

static const char *path_name(const struct path *pa)
{
	static const char *const names[] = {"deviceId", "status",  "etag",    "version",
					    "tags",	"desired", "reported"};

	return pa->nseg ? pa->seg[pa->nseg - 1] : names[pa->root];
}

static int parse_item(struct parser *p, struct item *it)
{
	memset(it, 0, sizeof *it);
	it->pos = p->tpos;
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
		it->name = strndup(p->s + p->tpos, p->tlen);
		if (it->name == NULL || next(p) != 0)
			return it->name ? -1 : nomem(p);
	} else {
		it->name = strdup(it->is_count ? "$1" : path_name(&it->path));
		if (it->name == NULL)
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

/* Builds q's columns and SQL from the select list and GROUP BY paths. */
static int plan_select(struct parser *p, struct item *items, size_t nitems, struct path *groups,
		       size_t ngroups, bool star, struct buf *sel)
{
	struct twinq *q = p->q;
	bool counts = false;

	if (star) {
		if (ngroups > 0)
			return fail(p, p->tpos, false, "GROUP BY needs a select list, not *");
		q->kind = TWINQ_TWINS;
		return 0;
	}
	for (size_t i = 0; i < nitems; i++)
		counts |= items[i].is_count;
	q->kind = counts || ngroups ? TWINQ_AGGREGATE : TWINQ_PROJECT;
	q->cols = calloc(nitems, sizeof *q->cols);
	if (q->cols == NULL)
		return nomem(p);
	for (size_t i = 0; i < nitems; i++) {
		struct item *it = &items[i];
		size_t g;

		for (size_t j = 0; j < i; j++)
			if (strcmp(q->cols[j].name, it->name) == 0)
				return fail(p, it->pos, false, "two columns named %.64s", it->name);
		q->cols[i].name = it->name;
		q->cols[i].is_count = it->is_count;
		it->name = NULL;
		q->ncols++;
		if (q->kind == TWINQ_AGGREGATE && !it->is_count) {
			for (g = 0; g < ngroups && !path_equal(&groups[g], &it->path); g++)
				;
			if (g == ngroups)
				return fail(p, it->pos, false,
					    "a column beside COUNT() must be a GROUP BY path");
		}
		if (out(p, sel, "%s", i || q->kind == TWINQ_PROJECT ? ", " : "") != 0)
			return -1;
		if (it->is_count) {
			if (out(p, sel, "count(*)") != 0)
				return -1;
		} else if (out(p, sel, "(") != 0 || emit_path(p, sel, &it->path) != 0 ||
			   out(p, sel, ")::text") != 0) {
			return -1;
		}
	}
	if (ngroups > 0) {
		struct buf g;

		buf_init(&g, 4096);
		for (size_t j = 0; j < ngroups; j++) {
			size_t i;

			for (i = 0; i < nitems; i++)
				if (!items[i].is_count && path_equal(&groups[j], &items[i].path))
					break;
			if (i == nitems) {
				buf_free(&g);
				return fail(p, p->tpos, false,
					    "every GROUP BY path must be selected");
			}
			if (out(p, &g, "%s%zu", j ? ", " : "", i + 1) != 0) {
				buf_free(&g);
				return -1;
			}
		}
		q->group_sql = strndup((char *)g.data, g.len);
		buf_free(&g);
		if (q->group_sql == NULL)
			return nomem(p);
	}
	return 0;
}

/* ORDER BY: a stable order over whole twins or projections (keyset paging
 * on the path's value, then the device ID); one row of groups or counts
 * has none to give, as in Cosmos DB, whose language IoT Hub's follows. */
static int plan_order(struct parser *p, const struct path *order, size_t pos)
{
	struct buf b;
	int rc;

	if (p->q->kind == TWINQ_AGGREGATE)
		return fail(p, pos, false, "ORDER BY cannot be used with GROUP BY or COUNT()");
	buf_init(&b, SQL_MAX);
	rc = emit_path(p, &b, order);
	if (rc == 0 && (p->q->order_sql = strndup((char *)b.data, b.len)) == NULL)
		rc = nomem(p);
	buf_free(&b);
	return rc;
}

static int parse_query(struct parser *p, struct buf *sel, struct buf *where)
{
	struct item items[TWINQ_COLS_MAX];
	struct path groups[TWINQ_COLS_MAX], order = {0};
	size_t nitems = 0, ngroups = 0, opos = 0;
	bool star = false, has_order = false;
	int rc = -1;

	if (expect_kw(p, "SELECT") != 0 || parse_top(p) != 0)
		return -1;
	if (p->t == T_STAR) {
		star = true;
		if (next(p) != 0)
			return -1;
	} else {
		for (;;) {
			if (nitems == TWINQ_COLS_MAX) {
				fail(p, p->tpos, true, "more than %d columns", TWINQ_COLS_MAX);
				goto out;
			}
			if (parse_item(p, &items[nitems++]) != 0)
				goto out;
			if (p->t != T_COMMA)
				break;
			if (next(p) != 0)
				goto out;
		}
	}
	if (expect_kw(p, "FROM") != 0 || expect_kw(p, "devices") != 0)
		goto out;
	if (is_kw(p, "WHERE")) {
		if (next(p) != 0 || parse_or(p, where) != 0)
			goto out;
	} else if (out(p, where, "TRUE") != 0) {
		goto out;
	}
	if (is_kw(p, "GROUP")) {
		if (next(p) != 0 || expect_kw(p, "BY") != 0)
			goto out;
		for (;;) {
			if (ngroups == TWINQ_COLS_MAX) {
				fail(p, p->tpos, true, "more than %d GROUP BY paths",
				     TWINQ_COLS_MAX);
				goto out;
			}
			if (parse_path(p, &groups[ngroups]) != 0)
				goto out;
			ngroups++;
			if (p->t != T_COMMA)
				break;
			if (next(p) != 0)
				goto out;
		}
	}
	if (is_kw(p, "ORDER")) {
		opos = p->tpos;
		if (next(p) != 0 || expect_kw(p, "BY") != 0 || parse_path(p, &order) != 0)
			goto out;
		has_order = true;
		if (is_kw(p, "ASC") || is_kw(p, "DESC")) {
			p->q->order_desc = is_kw(p, "DESC");
			if (next(p) != 0)
				goto out;
		} else if (p->t == T_IDENT) {
			fail(p, p->tpos, false, "expected ASC or DESC after the ORDER BY path");
			goto out;
		}
		if (p->t == T_COMMA) {
			fail(p, p->tpos, false, "ORDER BY takes one path");
			goto out;
		}
	}
	if (p->t != T_EOF) {
		fail(p, p->tpos, false, "unexpected text after the query");
		goto out;
	}
	rc = plan_select(p, items, nitems, groups, ngroups, star, sel);
	if (rc == 0 && has_order)
		rc = plan_order(p, &order, opos);
out:
	for (size_t i = 0; i < nitems; i++) {
		path_free(&items[i].path);
		free(items[i].name);
	}
	for (size_t i = 0; i < ngroups; i++)
		path_free(&groups[i]);
	path_free(&order);
	return rc;
}

static int compile(const char *text, struct twinq *q, struct twinq_error *err, bool whole,
		   size_t base)
{
	struct parser p = {.s = text, .q = q, .err = err, .base = base};
	struct buf sel, where;
	int rc = -1;

	memset(q, 0, sizeof *q);
	memset(err, 0, sizeof *err);
	q->top = -1;
	buf_init(&sel, SQL_MAX);
	buf_init(&where, SQL_MAX);
	if (strlen(text) > TWINQ_TEXT_MAX) {
		fail(&p, TWINQ_TEXT_MAX, true, "a query longer than %d bytes", TWINQ_TEXT_MAX);
		goto out;
	}
	if (!utf8_valid(text, strlen(text))) {
		fail(&p, 0, false, "the query is not UTF-8");
		goto out;
	}
	if (next(&p) != 0)
		goto out;
	if (whole) {
		if (parse_query(&p, &sel, &where) != 0)
			goto out;
	} else {
		if (parse_or(&p, &where) != 0)
			goto out;
		if (p.t != T_EOF) {
			fail(&p, p.tpos, false, "unexpected text after the condition");
			goto out;
		}
	}
	q->select_sql = strndup(sel.data ? (char *)sel.data : "", sel.len);
	q->where_sql = strndup((char *)where.data, where.len);
	if (q->select_sql == NULL || q->where_sql == NULL) {
		nomem(&p);
		goto out;
	}
	rc = 0;
out:
	free(p.tstr);
	buf_free(&sel);
	buf_free(&where);
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
