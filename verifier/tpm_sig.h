/* TPMT_SIGNATURE as tpm2_quote -s writes it: parsing and verification of
 * RSASSA-PKCS1-v1_5, RSA-PSS and ECDSA signatures with SHA-256 or SHA-384. */
#ifndef ORCHARD_VERIFIER_TPM_SIG_H
#define ORCHARD_VERIFIER_TPM_SIG_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/verr.h"

/* Parses a marshalled TPMT_SIGNATURE filling exactly n bytes. 0 or -1. */
int tpm_sig_parse(const uint8_t *b, size_t n, TPMT_SIGNATURE *out, struct verr *e);

/* The hash algorithm a signature names (0 if the scheme is unknown). */
uint16_t tpm_sig_hash(const TPMT_SIGNATURE *s);

/* A verification context prepared for the scheme key fixes in its public
 * area (NULL when it fixes none or on error). Verifications duplicate it
 * rather than setting one up each time, which is most of the cost beyond
 * the RSA/ECDSA mathematics. It is only ever read, so one may be shared by
 * threads. Free with EVP_PKEY_CTX_free. */
EVP_PKEY_CTX *tpm_sig_prepare(EVP_PKEY *pk, const TPMT_PUBLIC *key);

/* Verifies s over msg with key pk, whose public area key describes: the
 * signature's scheme must suit the key type and, when the key fixes a
 * scheme, equal it. tmpl is tpm_sig_prepare's context or NULL. Returns 0,
 * or -1 with e set ("sig-invalid" when the mathematics fails). */
int tpm_sig_verify(EVP_PKEY *pk, EVP_PKEY_CTX *tmpl, const TPMT_PUBLIC *key,
		   const TPMT_SIGNATURE *s, const uint8_t *msg, size_t n, struct verr *e);

#endif
