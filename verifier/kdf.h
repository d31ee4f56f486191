/* The TPM's key derivation functions: KDFa (SP 800-108 counter mode with
 * HMAC) and KDFe (SP 800-56A concatenation KDF), TPM 2.0 Part 1, 11.4.10. */
#ifndef ORCHARD_VERIFIER_KDF_H
#define ORCHARD_VERIFIER_KDF_H
#include <stddef.h>
#include <stdint.h>

/* KDFa(hash, key, label, contextU, contextV, bits) into out (bits/8 bytes,
 * rounded up). label is a C string; its terminating NUL is part of the
 * input, as the TPM does. Returns 0 or -1. */
int kdf_a(uint16_t hash, const uint8_t *key, size_t keylen, const char *label, const uint8_t *u,
	  size_t ulen, const uint8_t *v, size_t vlen, uint32_t bits, uint8_t *out);

/* KDFe(hash, Z, label, partyUInfo, partyVInfo, bits) into out. */
int kdf_e(uint16_t hash, const uint8_t *z, size_t zlen, const char *label, const uint8_t *u,
	  size_t ulen, const uint8_t *v, size_t vlen, uint32_t bits, uint8_t *out);

#endif
