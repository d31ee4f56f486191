/* TPM algorithm identifiers mapped to OpenSSL digests and curves: the one
 * table the verifier consults, so an unknown ID is refused in one place. */
#ifndef ORCHARD_VERIFIER_TPM_ALG_H
#define ORCHARD_VERIFIER_TPM_ALG_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define TPM_ALG_MAX_DIGEST 64

/* The EVP_MD for a TPM hash ID (SHA-1, SHA-256, SHA-384, SHA-512), or NULL. */
const EVP_MD *tpm_alg_md(uint16_t alg);

/* Digest size in bytes for a TPM hash ID, 0 if unknown. */
size_t tpm_alg_digest_size(uint16_t alg);

/* "sha256" for 0x000b, NULL if unknown; and the reverse (0 if unknown). */
const char *tpm_alg_hash_name(uint16_t alg);
uint16_t tpm_alg_hash_from_name(const char *name);

/* OpenSSL group name ("P-256") and coordinate size for a TPM curve ID. */
const char *tpm_alg_curve_name(uint16_t curve);
size_t tpm_alg_curve_bytes(uint16_t curve);

#endif
