/* Verifier rejection reasons (struct verr.code) mapped to registry codes, so
 * an attestation failure is stable on the wire whichever check failed. */
#ifndef ORCHARD_VERIFIER_VERR_MAP_H
#define ORCHARD_VERIFIER_VERR_MAP_H
#include "common/errors_gen.h"

/* The registry code for reason. Returns 0 with *out set, or -1 when the
 * reason has no row (a new verifier check: add it to verr_map.c). */
int verr_map_lookup(const char *reason, enum err_code *out);

/* As verr_map_lookup, falling back to ERR_ATTEST_INTERNAL for an unknown
 * reason (tests/unit/verifier/test_verr_map.c keeps that from happening). */
enum err_code verr_err_code(const char *reason);

/* The rows, for tests: reason and code, ending with a NULL reason. */
struct verr_map_row {
	const char *reason;
	enum err_code err;
};
extern const struct verr_map_row verr_map_rows[];

#endif
