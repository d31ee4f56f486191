/* Rejection reasons for the verifier: first failure wins, so the message a
 * caller sees names the check that actually failed, not a later symptom. */
#include "verifier/verr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void verr_set(struct verr *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL || e->code[0] != '\0')
		return;
	snprintf(e->code, sizeof(e->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void verr_clear(struct verr *e)
{
	if (e != NULL)
		memset(e, 0, sizeof(*e));
}
