/* Account contact URLs (RFC 8555 section 7.3): mailto: with exactly one
 * plain address, as Boulder accepts them. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "acme/jws.h"

#define CONTACT_MAX 254

int acme_contact_check(const char *contact, struct acme_err *e)
{
	size_t n = strlen(contact);
	const char *addr, *at;

	if (strncmp(contact, "mailto:", 7) != 0) {
		e->code = ERR_ACME_UNSUPPORTED_CONTACT;
		snprintf(e->detail, sizeof e->detail, "only mailto: contacts are supported");
		return -1;
	}
	addr = contact + 7;
	at = strchr(addr, '@');
	e->code = ERR_ACME_INVALID_CONTACT;
	if (n > 7 + CONTACT_MAX || at == NULL || at == addr || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL) {
		snprintf(e->detail, sizeof e->detail, "a contact must be mailto: one address");
		return -1;
	}
	for (const char *p = addr; *p; p++)
		if (!isgraph((unsigned char)*p) || strchr(",?%;<>()[]\\\"", *p) != NULL) {
			snprintf(e->detail, sizeof e->detail,
				 "a contact must be mailto: one plain address, no header fields");
			return -1;
		}
	if (strchr(at + 1, '.') == NULL || at[1] == '.' || contact[n - 1] == '.') {
		snprintf(e->detail, sizeof e->detail, "a contact's domain must be a DNS name");
		return -1;
	}
	return 0;
}
