/* A process-wide cache of parsed ACME account keys: a kid request would
 * otherwise rebuild and re-check the account's EVP_PKEY from its stored JWK
 * on every request (EVP_PKEY_fromdata and the public-key check, a full
 * point multiplication, about a fifth of orchardd's CPU per issuance). */
#ifndef ORCHARD_ACME_KEYCACHE_H
#define ORCHARD_ACME_KEYCACHE_H
#include "acme/jws.h"

/* Parses jwk_text, the stored key of account id, into *out (the caller's,
 * freed with acme_jwk_free()), from the cache when the same account's same
 * text was parsed before: a changed key (keyChange) is a different text,
 * so a miss. 0, or -1 with *e as acme_jwk_parse_text() sets it. */
int acme_keycache_parse(const char *id, const char *jwk_text, struct acme_jwk *out,
			struct acme_err *e);

/* The key last cached for account id, into *out (free with acme_jwk_free())
 * and its stored JWK text into *jwk_text (free()). 0, or -1 when none: a
 * kid request verifies with it before reading the account, so it reads
 * the account and takes its nonce in one statement (server/acme.c). */
int acme_keycache_get(const char *id, struct acme_jwk *out, char **jwk_text);

/* Frees every cached key (at exit, for leak checkers). */
void acme_keycache_clear(void);

#endif
