/* Operator authentication: ES256 JWT bearer tokens with scopes, an expiry
 * and a jti, verified once and then cached until they expire. */
#ifndef ORCHARD_AUTH_H
#define ORCHARD_AUTH_H
#include <stdbool.h>
#include <stdint.h>

#include "common/errors_gen.h"
#include "server/request.h"

struct auth;
struct revocations;

/* Loads the P-256 signing key at key_path (PEM). revoked may be NULL (no
 * revocation checks: only for the token command). NULL on failure. */
struct auth *auth_new(const char *key_path, struct revocations *revoked);
void auth_free(struct auth *a);

/* Checks an Authorization header value for a token holding all of need.
 * Returns true and fills *op, or false with *err set (401 or 403). */
bool auth_check(struct auth *a, const char *header, unsigned need, struct operator* op,
		enum err_code *err);

/* How many requests were refused with err (a 401 or 403 kind) so far. */
uint64_t auth_refusals(struct auth *a, enum err_code err);

/* Signs a new token. jti_out receives its ID (33 bytes). Returns the
 * token (caller frees) or NULL. */
char *auth_issue(struct auth *a, const char *subject, unsigned scopes, long ttl_seconds,
		 long *expires_at, char jti_out[33]);

#endif
