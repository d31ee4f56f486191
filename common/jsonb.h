/* Bounded JSON parsing for untrusted input: a depth limit that jansson
 * itself lacks (it allows 2048 levels), on top of the body-size limit. */
#ifndef ORCHARD_JSONB_H
#define ORCHARD_JSONB_H
#include <jansson.h>
#include <stddef.h>

enum jsonb_result { JSONB_OK, JSONB_MALFORMED, JSONB_TOO_DEEP };

/* Parses len bytes as one JSON value nested at most max_depth levels.
 * On JSONB_OK *out holds a new reference the caller owns; otherwise *out
 * is NULL and, for JSONB_MALFORMED, err (if not NULL) says where. */
enum jsonb_result jsonb_parse(const char *data, size_t len, int max_depth, json_t **out,
			      json_error_t *err);

/* The common case of a request body, parsed without jansson's lexer (about
 * 20 instructions a byte on long base64url strings): an object whose
 * members are all plain strings (printable ASCII, no escapes), each key
 * once, keys under 64 bytes, nothing after it but whitespace. Returns a
 * new reference, or NULL for anything else (then parse it with jansson,
 * which decides and says what is wrong). */
json_t *jsonb_flat(const char *data, size_t len);

/* Depth of the deepest array/object in the text, counted without parsing,
 * ignoring brackets inside strings; stops counting past limit+1. */
int jsonb_depth(const char *data, size_t len, int limit);

#endif
