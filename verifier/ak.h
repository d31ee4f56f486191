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

/* As ak_key_new(), for a public area whose key the caller holds already:
 * pkey, whose SubjectPublicKeyInfo DER is spki (an AK certificate's). The
 * area must encode that very key (tpm_public_spki() byte for byte), else
 * NULL with e->code "ak-other-key"; the key is then pkey (a reference is
 * taken), not one built again from the area (about 0.26 M instructions
 * per device-attest-01 quote). */
struct ak_key *ak_key_new_known(const uint8_t *pub, size_t n, const uint8_t *spki, size_t spki_len,
				EVP_PKEY *pkey, struct verr *e);

/* Frees k; NULL is fine. */
void ak_key_free(struct ak_key *k);

#endif
