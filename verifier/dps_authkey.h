/* The Azure DPS TPM "authenticationKey": an HMAC key K duplicated to the
 * device's SRK, with the inner wrapper key sent as a credential to its EK,
 * so only that TPM can import K and sign SAS tokens with TPM2_HMAC. */
#ifndef ORCHARD_VERIFIER_DPS_AUTHKEY_H
#define ORCHARD_VERIFIER_DPS_AUTHKEY_H
#include <stddef.h>
#include <stdint.h>

#include "verifier/tpm_public.h"
#include "verifier/verr.h"

#define DPS_AUTHKEY_MAX 4096

/* Builds the blob for an RSA EK and RSA SRK (both AES-128-CFB, as DPS
 * devices have them; or, Orchard's own beyond Azure, an ECC EK whose
 * credential seed comes by ECDH as in TPM2_MakeCredential, and/or an ECC
 * SRK (SHA-256, AES-128-CFB) whose duplication seed does too) wrapping the 1-64-byte HMAC key k:
 *   TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET (credential for Name(SRK),
 *   holding the 16-byte inner wrapper key) || TPM2B_PRIVATE (duplicate of a
 *   keyed-hash object, HMAC-SHA256, sign|userWithAuth) ||
 *   TPM2B_ENCRYPTED_SECRET (its seed, OAEP "DUPLICATE") || TPM2B_PUBLIC ||
 *   00 00 (an empty TPM2B the Node SDK requires).
 * The device runs ActivateCredential(SRK, EK), Import, Load. Writes up to
 * cap bytes and the length to *len. Returns 0 or -1 with e set. */
int dps_authkey_build(const struct tpm_public *ek, const struct tpm_public *srk, const uint8_t *k,
		      size_t klen, uint8_t *out, size_t cap, size_t *len, struct verr *e);

#endif
