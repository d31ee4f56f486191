/* Conditional and partial downloads of immutable modules: Range (one byte
 * range) and If-None-Match, strict parsers over the header text. */
#include <ctype.h>
#include <string.h>

#include "depot/depot.h"

/* Digits at *p into *v (no sign, no overflow); advances *p. 0 or -1. */
static int digits(const char **p, uint64_t *v)
{
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	*v = 0;
	for (; isdigit((unsigned char)*s); s++) {
		if (*v > (UINT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	return 0;
}

int depot_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len)
{
	const char *p = header;
	uint64_t a, b;

	if (p == NULL || strncmp(p, "bytes=", 6) != 0)
		return -1;
	p += 6;
	if (*p == '-') { /* the last n bytes */
		p++;
		if (digits(&p, &b) != 0 || *p != '\0' || b == 0 || size == 0)
			return -1;
		if (b > size)
			b = size;
		*start = size - b;
		*len = b;
		return 0;
	}
	if (digits(&p, &a) != 0 || *p++ != '-')
		return -1;
	if (*p == '\0') {
		b = size - 1;
	} else if (digits(&p, &b) != 0 || *p != '\0' || b < a) {
		return -1;
	}
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*start = a;
	*len = b - a + 1;
	return 0;
}

bool depot_etag_match(const char *header, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = header;

	if (p == NULL)
		return false;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return true;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return false;
}
