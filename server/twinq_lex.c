/* The twin query language's lexer: tokens of the query text (names,
 * quoted strings with JSON escapes, JSON numbers, operators), each with
 * its position for error messages, and the first error recorded. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "server/twinq_lex.h"

int tq_fail(struct tq_parser *p, size_t pos, bool limit, const char *fmt, ...)
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

int tq_nomem(struct tq_parser *p)
{
	return tq_fail(p, p->tpos, false, "out of memory");
}

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
static int lex_string(struct tq_parser *p)
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
			return tq_fail(p, p->pos, false, "unterminated string");
		}
		if (c == (unsigned char)q) {
			i++;
			break;
		}
		if (c < 0x20) {
			buf_free(&b);
			return tq_fail(p, i, false, "a control character in a string");
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
		return tq_nomem(p);
	p->t = T_STRING;
	p->tlen = i - p->pos;
	return 0;
badesc:
	buf_free(&b);
	return tq_fail(p, i, false, "a bad escape in a string");
toolong:
	buf_free(&b);
	return tq_fail(p, p->pos, true, "a string longer than %d bytes", TWINQ_STRING_MAX);
}

/* A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]{1,4})? */
static int lex_number(struct tq_parser *p)
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
		return tq_fail(p, p->pos, false, "a malformed number");
	if (s[i] == '.') {
		i++;
		if (!isdigit((unsigned char)s[i]))
			return tq_fail(p, p->pos, false, "a malformed number");
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
			return tq_fail(p, p->pos, false, "a malformed number");
	}
	if (ident_char((unsigned char)s[i]) || s[i] == '.')
		return tq_fail(p, p->pos, false, "a malformed number");
	if (i > 64)
		return tq_fail(p, p->pos, true, "a number longer than 64 characters");
	p->t = T_NUMBER;
	p->tlen = i;
	return 0;
}

/* Reads the next token into p->t. */
int tq_next(struct tq_parser *p)
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
			return tq_fail(p, p->pos, false, "unexpected '!'");
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
			return tq_fail(p, p->pos, true, "a name longer than 1024 bytes");
		p->t = T_IDENT;
		p->tlen = n;
		return 0;
	}
	return tq_fail(p, p->pos, false, "unexpected character");
}

bool tq_is_kw(const struct tq_parser *p, const char *kw)
{
	return p->t == T_IDENT && p->tlen == strlen(kw) &&
	       strncasecmp(p->s + p->tpos, kw, p->tlen) == 0;
}

int tq_expect_kw(struct tq_parser *p, const char *kw)
{
	if (!tq_is_kw(p, kw))
		return tq_fail(p, p->tpos, false, "expected %s", kw);
	return tq_next(p);
}

int tq_expect(struct tq_parser *p, enum tq_tok t, const char *what)
{
	if (p->t != t)
		return tq_fail(p, p->tpos, false, "expected %s", what);
	return tq_next(p);
}
