/* The TPM's protection of data sent to it (TPM 2.0 Part 1, 23 and 24): a
 * seed encrypted to a key, and the outer wrapper (AES-CFB under
 * KDFa(seed, "STORAGE", Name), HMAC under KDFa(seed, "INTEGRITY")) shared
 * by credentials and duplication blobs. */
#ifndef ORCHARD_VERIFIER_TPM_WRAP_H
#define ORCHARD_VERIFIER_TPM_WRAP_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

/* RSA-OAEP with hash for both OAEP and MGF1 and label (its NUL included,
 * as the TPM does: "IDENTITY", "DUPLICATE"). 0 or -1. */
int tpm_wrap_rsa_seed(EVP_PKEY *pk, uint16_t hash, const char *label, const uint8_t *seed, size_t n,
		      TPM2B_ENCRYPTED_SECRET *out);

/* One-pass ECDH (Part 1, C.6.4): an ephemeral key QeU on the curve of p
 * (whose OpenSSL key is pk), Z = x(d_e * Q_p), and seed = KDFe(hash, Z,
 * label, QeU.x, Q_p.x, sl * 8); the encrypted "secret" is QeU itself,
 * marshalled as TPMS_ECC_POINT. 0 or -1. */
int tpm_wrap_ecc_seed(EVP_PKEY *pk, const TPMT_PUBLIC *p, uint16_t hash, const char *label,
		      uint8_t *seed, size_t sl, TPM2B_ENCRYPTED_SECRET *out);

/* AES-128/256 in CFB mode with a zero IV (each key is used once). 0 or -1. */
int tpm_wrap_aes_cfb(const uint8_t *key, uint16_t bits, const uint8_t *in, size_t n, uint8_t *out);

/* The outer wrapper: out = TPM2B(HMAC(KDFa(seed,"INTEGRITY"), enc || name))
 * || enc, where enc = CFB(KDFa(seed, "STORAGE", name, symbits), plain).
 * Writes at most cap bytes; returns the length, or 0 on failure. */
size_t tpm_wrap_outer(uint16_t hash, const uint8_t *seed, size_t seedlen, uint16_t symbits,
		      const uint8_t *name, size_t namelen, const uint8_t *plain, size_t n,
		      uint8_t *out, size_t cap);

#endif
