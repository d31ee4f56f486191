/* External account binding (RFC 8555 section 7.3.4): the HS256 JWS inside
 * newAccount that ties a new account key to an operator-issued MAC key.
 * Pure: parsing and the constant-time MAC check; the key lookup is the
 * caller's. */
#ifndef ORCHARD_ACME_EAB_H
#define ORCHARD_ACME_EAB_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "acme/jws.h"

#define ACME_EAB_KID_MAX 65

struct acme_eab {
	char kid[ACME_EAB_KID_MAX];
	char *signing_input; /* "protected.payload", owned */
	uint8_t *sig;	     /* owned */
	size_t sig_len;
};

/* Parses eab, the newAccount payload's externalAccountBinding: a flattened
 * JWS with alg HS256, a kid, url equal to url, no nonce, and as payload the
 * JWK whose thumbprint is account_thumbprint (the outer JWS's key). 0, or
 * -1 with *e (malformed). Free with acme_eab_free(). */
int acme_eab_parse(const json_t *eab, const char *url, const char *account_thumbprint,
		   struct acme_eab *out, struct acme_err *e);

/* 0 when eab's signature is HMAC-SHA256 under key (compared in constant
 * time), -1 otherwise. */
int acme_eab_verify(const struct acme_eab *eab, const uint8_t *key, size_t key_len);

void acme_eab_free(struct acme_eab *eab);

#endif
