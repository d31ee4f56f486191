/* The twin query language's syntax tree: what server/twinq_parse.c reads
 * from the text and server/twinq_sql.c compiles to SQL. Internal to both. */
#ifndef ORCHARD_TWINQ_AST_H
#define ORCHARD_TWINQ_AST_H
#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>

#include "server/twinq.h"

enum tq_root { TQ_DEVICEID, TQ_STATUS, TQ_ETAG, TQ_VERSION, TQ_TAGS, TQ_DESIRED, TQ_REPORTED };

/* root(.segment)*: only tags and the properties sections have members. */
struct tq_path {
	enum tq_root root;
	char *seg[TWINQ_PATH_MAX];
	int nseg;
};

/* A path, or a literal as JSON text. end: where the text after it starts
 * (the position of a limit the compiler meets there). */
struct tq_operand {
	bool is_path;
	struct tq_path path;
	char *json;
	char *str; /* a string literal decoded, else NULL */
	size_t end;
};

enum tq_func {
	TQ_IS_DEFINED,
	TQ_IS_NULL,
	TQ_IS_BOOL,
	TQ_IS_NUMBER,
	TQ_IS_STRING,
	TQ_IS_OBJECT,
	TQ_IS_ARRAY,
	TQ_IS_PRIMITIVE,
	TQ_STARTS_WITH,
	TQ_ENDS_WITH,
	TQ_NFUNCS
};

enum tq_kind {
	TQ_OR,	  /* kids joined by OR, parenthesised */
	TQ_AND,	  /* kids joined by AND */
	TQ_NOT,	  /* NOT kids[0] */
	TQ_GROUP, /* ( kids[0] ) as written */
	TQ_CMP,	  /* l op r */
	TQ_IN,	  /* l IN [list] */
	TQ_NIN,	  /* l NIN [list] */
	TQ_FUNC,  /* func(l.path[, r]) */
};

struct tq_node {
	enum tq_kind kind;
	struct tq_node **kids;
	size_t nkids;
	struct tq_operand l, r;
	char op[3];
	struct tq_operand *list;
	size_t nlist;
	enum tq_func func;
	size_t end; /* CMP and FUNC: where the text after the operands starts */
};

struct tq_item {
	bool is_count;
	struct tq_path path;
};

/* A whole query (SELECT ...) or a condition alone (where only). */
struct tq_query {
	bool star;
	struct tq_item items[TWINQ_COLS_MAX];
	size_t nitems;
	struct tq_path groups[TWINQ_COLS_MAX];
	size_t group_col[TWINQ_COLS_MAX]; /* the item each GROUP BY path is */
	size_t ngroups;
	struct tq_node *where; /* NULL: none */
	bool has_order;
	struct tq_path order;
	size_t end; /* the text's length */
};

/* JSON text of v (a new string; v's reference taken), NULL on failure. */
char *tq_json_text(json_t *v);

/* twinq_parse.c: parses text into *t and, in q, what the text alone
 * decides (kind, top, the columns' names); checks every rule that needs no
 * SQL. 0, or -1 with *err filled. tq_query_free() either way. */
int tq_parse(const char *text, bool whole, struct tq_query *t, struct twinq *q,
	     struct twinq_error *err);
void tq_query_free(struct tq_query *t);

/* twinq_sql.c: compiles t into q's SQL fragments and parameters, numbered
 * from base + 1. 0, or -1 with *err filled (a limit: too many parameters,
 * too much SQL). */
int tq_sql(const struct tq_query *t, size_t base, struct twinq *q, struct twinq_error *err);

#endif
