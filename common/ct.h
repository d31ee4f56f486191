/* Constant-time helpers for secrets: comparing MACs, tokens and keys
 * without leaking how many leading bytes matched. */
#ifndef ORCHARD_CT_H
#define ORCHARD_CT_H
#include <stdbool.h>
#include <stddef.h>

/* True when a and b hold the same n bytes; time depends on n only. */
bool ct_equal(const void *a, const void *b, size_t n);

/* True when the two strings are equal. The time depends on the lengths,
 * never on the contents, so it is safe for comparing secrets of a known
 * public length (HMAC outputs, token hashes). */
bool ct_equal_str(const char *a, const char *b);

#endif
