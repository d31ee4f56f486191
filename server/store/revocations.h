/* The set of revoked operator token IDs, kept in memory and refreshed when
 * the event hub hears of a revocation, so checking one costs no query. */
#ifndef ORCHARD_REVOCATIONS_H
#define ORCHARD_REVOCATIONS_H
#include <stdbool.h>

struct revocations;
struct events;

/* Loads the set from url, then keeps it fresh on the hub's
 * EVENTS_TOKEN_REVOKED events with a reloading thread of its own
 * connection; each statement gives up after deadline_ms (0:
 * STORE_DEADLINE_MS) and reconnects. NULL on failure. */
struct revocations *revocations_start(const char *url, int deadline_ms, struct events *hub);
void revocations_stop(struct revocations *r);

bool revocations_contains(struct revocations *r, const char *jti);

#endif
