/* libFuzzer driver: ACME identifier checks. The input splits at its first
 * NUL into type and value; an accepted identifier must be accepted again
 * in the form we store (value, with "*." for a wildcard) and unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[600], again[ACME_IDENT_MAX + 3];
	const char *type, *value;
	struct acme_ident id, id2;
	struct acme_err e;
	size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;

	memcpy(buf, data, n);
	buf[n] = '\0';
	type = buf;
	value = memchr(buf, '\0', n) ? buf + strlen(buf) + 1 : "";
	if (value > buf + n)
		value = "";
	if (acme_ident_check(type, value, &id, &e) != 0)
		return 0;
	snprintf(again, sizeof again, "%s%s", id.wildcard ? "*." : "", id.value);
	if (strcmp(again, value) != 0 || acme_ident_check(type, again, &id2, &e) != 0 ||
	    strcmp(id2.value, id.value) != 0 || id2.wildcard != id.wildcard)
		abort();
	return 0;
}
