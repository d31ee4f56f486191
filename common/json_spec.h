/* Declarative parsing of JSON request bodies (GNU Taler's spec arrays): each
 * field names a parser and a destination; one json_spec_free() releases all. */
#ifndef ORCHARD_JSON_SPEC_H
#define ORCHARD_JSON_SPEC_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Tri-state result: the server wrapper (server/spec.h) turns INVALID into a
 * 400 naming the field, NOMEM into a 500. */
enum json_spec_rc { JSON_SPEC_NOMEM = -1, JSON_SPEC_OK = 0, JSON_SPEC_INVALID = 1 };

/* Flags, or-ed. */
#define JSON_SPEC_OPTIONAL 0x1u /* absent or null leaves dest untouched */
#define JSON_SPEC_NO_CTRL 0x2u	/* strings: refuse U+0000-U+001F and U+007F */
#define JSON_SPEC_NONEMPTY 0x4u /* strings, arrays: refuse "" and [] */

struct json_spec_error {
	char pointer[160]; /* RFC 6901 pointer to the bad value: "/scope/2" */
	char reason[160];  /* what was wrong with it, for the reply's detail */
};

struct json_spec;

/* A parser reads v (the value at pointer ptr) into s->dest. It returns OK,
 * or INVALID with err filled (json_spec_fail), or NOMEM. On failure it
 * leaves nothing allocated behind. */
typedef enum json_spec_rc (*json_spec_parse_fn)(const struct json_spec *s, json_t *v,
						const char *ptr, struct json_spec_error *err);
/* Releases what the parser allocated and resets dest; NULL-safe. */
typedef void (*json_spec_free_fn)(const struct json_spec *s);

/* One field. A parser that allocates has a free function and a dest that is
 * a pointer to a pointer (json_spec_parse sets it to NULL first). Handlers
 * may write their own parsers against this struct. */
struct json_spec {
	const char *field; /* NULL ends the array (json_spec_end()) */
	json_spec_parse_fn parse;
	json_spec_free_fn free;
	void *dest;
	void *dest2; /* a second output: a length or a count */
	long long min, max;
	unsigned flags;
	struct json_spec *sub; /* json_spec_fields: the nested spec */
	bool *present;	       /* set to whether the field was there; may be NULL */
};

/* Parses the members of the object root named by spec. On any failure all
 * that was parsed is released again (no json_spec_free needed) and, for
 * INVALID, err names the field. Borrowed results (strings, objects) point
 * into root and live as long as it does. */
enum json_spec_rc json_spec_parse(json_t *root, struct json_spec *spec,
				  struct json_spec_error *err);

/* Releases everything a successful json_spec_parse allocated; idempotent. */
void json_spec_free(struct json_spec *spec);

/* Fills err for a parser: pointer ptr and a printf-style reason. Returns
 * JSON_SPEC_INVALID, so a parser can `return json_spec_fail(...)`. */
enum json_spec_rc json_spec_fail(struct json_spec_error *err, const char *ptr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The parsers. */
struct json_spec json_spec_end(void);
/* A string of at most max_len bytes, borrowed from the JSON; NUL refused. */
struct json_spec json_spec_string(const char *field, const char **dest, size_t max_len,
				  unsigned flags);
/* An integer within [min, max]. */
struct json_spec json_spec_int(const char *field, long long *dest, long long min, long long max,
			       unsigned flags);
struct json_spec json_spec_bool(const char *field, bool *dest, unsigned flags);
/* Any object, borrowed. */
struct json_spec json_spec_object(const char *field, json_t **dest, unsigned flags);
/* An object whose members are parsed by sub (errors name "/field/member"). */
struct json_spec json_spec_fields(const char *field, struct json_spec *sub, unsigned flags);
/* An array of at most max_items strings of at most max_len bytes each: a new
 * array of borrowed pointers in *dest (freed by json_spec_free), its length
 * in *count. */
struct json_spec json_spec_string_array(const char *field, const char ***dest, size_t *count,
					size_t max_items, size_t max_len, unsigned flags);
/* Base64 (padded) or base64url (unpadded) bytes, decoded to at most max_len
 * bytes: a new buffer in *dest (freed by json_spec_free), length in *len. */
struct json_spec json_spec_base64(const char *field, uint8_t **dest, size_t *len, size_t max_len,
				  unsigned flags);
struct json_spec json_spec_base64url(const char *field, uint8_t **dest, size_t *len, size_t max_len,
				     unsigned flags);
/* An RFC 3339 date-time ("2026-12-01T15:00:00.25+01:00"), to seconds since
 * the epoch in UTC; fractions of a second are dropped. */
struct json_spec json_spec_time(const char *field, time_t *dest, unsigned flags);

/* Parses an RFC 3339 date-time of len bytes. Returns 0, or -1 when it is not
 * one. Exposed for query parameters and tests. */
int json_spec_parse_time(const char *s, size_t len, time_t *out);

#endif
