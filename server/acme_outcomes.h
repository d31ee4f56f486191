/* Validation outcomes this process just recorded, held a moment for the
 * challenge answer waiting on them: it replies from here, not from a read
 * of its authorization (one statement less per http-01 issuance). */
#ifndef ORCHARD_ACME_OUTCOMES_H
#define ORCHARD_ACME_OUTCOMES_H
#include <stdbool.h>

/* A validation's end as the store recorded it. */
struct acme_outcome {
	bool ok;
	long long validated; /* Unix seconds, when ok */
	char *error;	     /* the problem (JSON text) when not ok; NULL out of memory */
};

/* Holds challenge chall_id's outcome (error copied) in a slot of a fixed
 * table, in place of what the slot held: memory stays bounded when no
 * answer takes it (one that gave up waiting). */
void acme_outcome_put(const char *chall_id, const struct acme_outcome *o);

/* Moves chall_id's outcome into *out (the caller frees out->error): true,
 * or false when it is not held (overwritten, or not recorded by this
 * process): read the store then. */
bool acme_outcome_take(const char *chall_id, struct acme_outcome *out);

#endif
