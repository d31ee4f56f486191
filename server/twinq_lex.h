/* The twin query language's lexer (server/twinq_lex.c), shared with its
 * parser (server/twinq_parse.c): the tokens, the parser's state with the
 * current token in it, and the first error. Internal to both. */
#ifndef ORCHARD_TWINQ_LEX_H
#define ORCHARD_TWINQ_LEX_H
#include <stdbool.h>
#include <stddef.h>

#include "server/twinq.h"

enum tq_tok {
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

struct tq_parser {
	const char *s;
	size_t pos;
	int depth;
	/* the current token */
	enum tq_tok t;
	size_t tpos, tlen;
	char *tstr; /* decoded T_STRING */
	struct twinq *q;
	struct twinq_error *err;
	bool failed;
};

/* Records the first error at pos (limit: a size limit, "too complex")
 * unless one is recorded already; always -1. */
int tq_fail(struct tq_parser *p, size_t pos, bool limit, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* tq_fail() for a failed allocation at the current token. */
int tq_nomem(struct tq_parser *p);

/* Reads the next token into p->t (a T_STRING decoded into p->tstr, which
 * the caller frees at the end). 0, or -1 after tq_fail(). */
int tq_next(struct tq_parser *p);
/* Whether the current token is keyword kw (ASCII, any case). */
bool tq_is_kw(const struct tq_parser *p, const char *kw);
/* Moves past keyword kw or token t; -1 after tq_fail() naming what was expected. */
int tq_expect_kw(struct tq_parser *p, const char *kw);
int tq_expect(struct tq_parser *p, enum tq_tok t, const char *what);

#endif
