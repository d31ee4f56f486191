/* Shared by the two device-attest-01 standing queries (an AK certificate
 * Orchard issued, or an external root's): the conversion of their one row
 * (revoked count, enabled, "kind/id", policy) into the caller's values. */
#ifndef ORCHARD_PG_ATTEST_STANDING_ROWS_H
#define ORCHARD_PG_ATTEST_STANDING_ROWS_H
#include <stdbool.h>

#include "server/store/store_pg.h"

/* Fills the outputs from res (consumed: cleared here): *known when qs is
 * STORE_ONE. Returns qs, or STORE_HARD when out of memory. */
enum store_qs store_attest_standing_row(PGresult *res, enum store_qs qs, bool *known,
					long long *revoked, bool *enabled, char **policy_name,
					char **policy);

#endif
