/* Attestation keys: the public-area rules an AK must meet before any quote
 * it signs means anything, and a loaded key a server caches per device. */
#ifndef ORCHARD_VERIFIER_AK_H
#define ORCHARD_VERIFIER_AK_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "verifier/tpm_public.h"
#include "verifier/verr.h"

struct ak_key {
	struct tpm_public pub;
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *verify_tmpl; /* for the AK's fixed scheme, or NULL; read-only */
};

/* Checks that p is a restricted signing key that never leaves its TPM:
 * restricted, sign, fixedTPM, fixedParent, sensitiveDataOrigin set and
 * decrypt clear; nameAlg SHA-256 or stronger; RSA >= 2048 or ECC
 * P-256/P-384. An unrestricted key could
 * sign TPMS_ATTEST bytes that no TPM produced, and neither tpm2_checkquote
 * nor ActivateCredential notices. Returns 0, or -1 with e set. */
int ak_check_public(const TPMT_PUBLIC *p, struct verr *e);

/* Parses a TPM2B_PUBLIC (tpm2_createak -u), checks it with
 * ak_check_public and loads its key. Returns a key the caller frees with
 * ak_key_free, or NULL with e set. */
struct ak_key *ak_key_new(const uint8_t *pub, size_t n, struct verr *e);

/* Frees k; NULL is fine. */
void ak_key_free(struct ak_key *k);

#endif
