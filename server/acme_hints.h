/* Challenges this process just listed in a pending authorization, with
 * what validating one needs: the answer that follows starts it from here
 * and records its outcome and nonce in one statement, without a read. */
#ifndef ORCHARD_ACME_HINTS_H
#define ORCHARD_ACME_HINTS_H
#include <stdbool.h>

#include "acme/order.h"
#include "server/acme.h"

struct acme_hint {
	char chall_id[ACME_ID_MAX];
	char authz_id[ACME_ID_MAX];
	char account_id[ACME_ID_MAX];
	char type[ACME_ID_MAX];
	char token[ACME_ID_MAX];
	char ident_type[8]; /* "dns" or "ip" */
	char ident_value[ACME_IDENT_MAX];
	bool wildcard;
	long long expires_at; /* the authorization's, Unix seconds */
};

/* Holds h in a slot of a fixed table, in place of what the slot held. */
void acme_hint_put(const struct acme_hint *h);

/* Moves chall_id's hint into *out: false when it is not held. A hint is
 * only a guess at the challenge's row: the statement that records the
 * outcome checks it all again. */
bool acme_hint_take(const char *chall_id, struct acme_hint *out);

#endif
