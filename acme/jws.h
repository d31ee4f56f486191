/* ACME's JOSE (RFC 8555 section 6.2, RFC 7515/7517/7638): flattened JWS
 * JSON parsing, JWK parsing and thumbprints, signature verification for
 * ES256, ES384, RS256 and EdDSA (Ed25519). Pure: no HTTP, no database. */
#ifndef ORCHARD_ACME_JWS_H
#define ORCHARD_ACME_JWS_H
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errors_gen.h"

/* Why a JWS or JWK was refused: a registry code and a detail for the client
 * (never key material). */
struct acme_err {
	enum err_code code;
	char detail[160];
};

/* Fills *e with code and a printf-style detail; returns -1, for
 * "return acme_fail(e, ...)" in the parsers. */
int acme_fail(struct acme_err *e, enum err_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum acme_alg { ACME_ALG_NONE = 0, ACME_ALG_ES256, ACME_ALG_ES384, ACME_ALG_RS256, ACME_ALG_EDDSA };

/* The algorithms we accept, for a badSignatureAlgorithm's "algorithms". */
#define ACME_ALGS_LIST "ES256 ES384 RS256 EdDSA"

/* RFC 7638 thumbprint: base64url SHA-256, 43 characters. */
#define ACME_THUMBPRINT_LEN 43

/* A parsed public key. canonical is the RFC 7638 JSON of its required
 * members (what the thumbprint hashes and what an account stores). */
struct acme_jwk {
	EVP_PKEY *pkey;
	/* For an EC key, a context set up once for ECDSA verification of a
	 * digest (EVP_PKEY_verify_init), or NULL: OpenSSL 3.0's
	 * EVP_DigestVerifyInit looks the key's names up again on every call.
	 * Not shared between threads: a copy is an EVP_PKEY_CTX_dup(). */
	EVP_PKEY_CTX *verify;
	char *canonical;
	char thumbprint[ACME_THUMBPRINT_LEN + 1];
	/* An EC key's group (OpenSSL's name) and point, 0x04 || x || y, as
	 * the JWK gave them (finalize compares a CSR's key with them);
	 * NULL and 0 for other keys. */
	const char *group;
	unsigned char point[1 + 2 * 48];
	size_t point_len;
};

/* Parses a JWK object: kty EC (P-256, P-384), RSA (2048 to 8192 bits) or
 * OKP (Ed25519). A private member or a non-minimal number is malformed; an
 * unsupported key type or curve is badPublicKey. 0, or -1 with *e. */
int acme_jwk_parse(const json_t *jwk, struct acme_jwk *out, struct acme_err *e);
/* As acme_jwk_parse, from JSON text (an account's stored key). */
int acme_jwk_parse_text(const char *text, struct acme_jwk *out, struct acme_err *e);
void acme_jwk_free(struct acme_jwk *k);

/* A flattened JWS JSON request as RFC 8555 section 6.2 allows it. */
struct acme_jws {
	enum acme_alg alg;
	json_t *header;	   /* the decoded protected header, owned */
	const char *nonce; /* borrowed from header */
	const char *url;
	const char *kid;    /* exactly one of kid and jwk is set */
	const json_t *jwk;  /* borrowed from header */
	uint8_t *payload;   /* decoded, owned, NUL-terminated */
	size_t payload_len; /* 0: POST-as-GET (an empty payload string) */
	uint8_t *sig;	    /* decoded signature, owned */
	size_t sig_len;
	char *signing_input; /* "protected.payload" as sent, owned */
	size_t signing_input_len;
};

/* Parses body, the request's JSON: exactly the members protected, payload
 * and signature (strict base64url); a protected header with a supported
 * alg (badSignatureAlgorithm otherwise), nonce (badNonce when missing), url
 * and exactly one of jwk and kid (malformed). 0, or -1 with *e. */
int acme_jws_parse(const json_t *body, struct acme_jws *out, struct acme_err *e);

/* As acme_jws_parse, for keyChange's inner JWS (section 7.3.5): the nonce
 * may be absent (out->nonce NULL then), and without one the key must be a
 * "jwk". */
int acme_jws_parse_inner(const json_t *body, struct acme_jws *out, struct acme_err *e);

/* Verifies jws's signature with key; an alg that does not fit the key is
 * badSignatureAlgorithm, a bad signature malformed. 0, or -1 with *e. */
int acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key, struct acme_err *e);
/* As acme_jws_verify, with key->verify when it has one (ES256, ES384):
 * the same checks and outcomes. key->verify is used, so not concurrently. */
int acme_jwk_verify(const struct acme_jws *jws, const struct acme_jwk *key, struct acme_err *e);

void acme_jws_free(struct acme_jws *jws);

/* Checks one account contact URL (RFC 8555 section 7.3): "mailto:" with
 * exactly one address and no header fields. 0, or -1 with *e
 * (unsupportedContact for another scheme, invalidContact otherwise). */
int acme_contact_check(const char *contact, struct acme_err *e);

#endif
