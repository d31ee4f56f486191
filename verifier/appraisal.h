/* The appraisal result as a signed JWT (ES256) that a relying party can
 * verify: device identity, verdict, the checks that passed, evidence time
 * and expiry. */
#ifndef ORCHARD_VERIFIER_APPRAISAL_H
#define ORCHARD_VERIFIER_APPRAISAL_H
#include <stddef.h>
#include <stdint.h>

#include "verifier/verr.h"

#define APPRAISAL_MAX_CHECKS 16

struct appraisal {
	const char *verdict;   /* "pass" or "fail"; a static string */
	const char *reason;    /* for "fail": the rejection code, or NULL */
	int64_t evidence_time; /* when the evidence was verified (Unix s) */
	size_t nchecks;
	const char *checks[APPRAISAL_MAX_CHECKS]; /* static strings, in order */
};

void appraisal_init(struct appraisal *a);

/* Records that check passed (a static string; extra checks beyond the
 * maximum are dropped, never overflow). */
void appraisal_pass(struct appraisal *a, const char *check);

/* Signs a as a JWT with ES256 using the PEM EC P-256 private key in
 * key/keylen. Claims: iss "orchard-verifier", sub device_id, verdict,
 * reason (when set), checks (array), evidence_time, iat now, exp now + ttl. Returns 0 and a
 * new string in *jwt (caller frees with free), or -1 with e set. */
int appraisal_sign(const struct appraisal *a, const char *device_id, const uint8_t *key,
		   size_t keylen, int64_t now, int64_t ttl, char **jwt, struct verr *e);

/* appraisal_sign with the key read from a PEM file, now = time(NULL). */
int appraisal_sign_file(const struct appraisal *a, const char *device_id, const char *key_path,
			int64_t ttl, char **jwt, struct verr *e);

/* Resets a (NULL-safe); it owns nothing, but keeps the pair visible. */
void appraisal_free(struct appraisal *a);

#endif
