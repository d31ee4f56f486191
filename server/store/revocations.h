/* The set of revoked operator token IDs, kept in memory and refreshed by a
 * thread that LISTENs for revocations, so checking one costs no query. */
#ifndef ORCHARD_REVOCATIONS_H
#define ORCHARD_REVOCATIONS_H
#include <stdbool.h>

struct revocations;

/* Starts the listener on its own connection to url; each of its
 * statements gives up after deadline_ms (0: STORE_DEADLINE_MS) and
 * reconnects. NULL on failure. */
struct revocations *revocations_start(const char *url, int deadline_ms);
void revocations_stop(struct revocations *r);

bool revocations_contains(struct revocations *r, const char *jti);

/* The channel revocations are announced on, in the same statement that
 * marks the token revoked. */
#define REVOCATIONS_CHANNEL "orchard_token_revoked"

#endif
