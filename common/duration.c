/* Duration parsing with strtol's errors checked: no sign, no spaces, one
 * optional unit, at most ten years. */
#include "common/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

long duration_parse(const char *text)
{
	char *end;
	long v, unit = 1;

	if (text == NULL || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || v <= 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > 10L * 365 * 86400 / unit)
		return -1;
	return v * unit;
}
