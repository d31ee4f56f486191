/* Strict UTF-8 validation, after the table in RFC 3629 section 4: jansson
 * and PostgreSQL both refuse anything else, so we refuse it first. */
#include "common/utf8.h"

#include <string.h>

/* Length of the well-formed sequence at s (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* past U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_seq_len(p + i, n - i)) == 0)
			return false;
	return true;
}

void utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_seq_len(p + i, n - i)) == 0) {
			p[i] = '?';
			k = 1;
		}
}
