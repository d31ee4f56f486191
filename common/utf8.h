/* Strict UTF-8 checks (no overlong forms, surrogates or code points past
 * U+10FFFF) for text that came off the wire and must go into JSON or SQL. */
#ifndef ORCHARD_UTF8_H
#define ORCHARD_UTF8_H
#include <stdbool.h>
#include <stddef.h>

/* True when the n bytes at s are well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Replaces, in the NUL-terminated s, every byte that does not start a
 * well-formed sequence with '?', so s can always become a JSON string. */
void utf8_scrub(char *s);

#endif
