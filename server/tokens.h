/* Issuing an operator token: sign it and record its ID, shared by the
 * `orchardd token issue` command and POST /ops/tokens. */
#ifndef ORCHARD_TOKENS_H
#define ORCHARD_TOKENS_H

struct auth;
struct store;

/* Longest lifetime a token may be issued with. */
#define TOKENS_MAX_TTL (90L * 86400)

/* Returns the new token (caller frees) with its jti and expiry, or NULL
 * when signing or storing failed (logged). */
char *tokens_create(struct auth *a, struct store *s, const char *subject, unsigned scopes, long ttl,
		    char jti[33], long *expires_at);

#endif
