/* Why a piece of evidence was rejected: a stable short code that tests and
 * callers match on (e.g. "nonce-mismatch") plus a human-readable detail. */
#ifndef ORCHARD_VERIFIER_VERR_H
#define ORCHARD_VERIFIER_VERR_H

struct verr {
	char code[48]; /* stable token, "" when nothing failed */
	char msg[256]; /* detail for an operator, never contains secrets */
};

/* Records the first failure only: a later call never overwrites an earlier
 * reason, so the root cause survives the unwinding. e may be NULL. */
void verr_set(struct verr *e, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clears e (NULL-safe). */
void verr_clear(struct verr *e);

#endif
