/* TPM2B_PUBLIC (a key's public area) as tpm2-tools writes it with -u:
 * strict parsing, the object's Name, and conversion to an OpenSSL key. */
#ifndef ORCHARD_VERIFIER_TPM_PUBLIC_H
#define ORCHARD_VERIFIER_TPM_PUBLIC_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/verr.h"

#define TPM_NAME_MAX (2 + 64)

struct tpm_public {
	TPMT_PUBLIC pub;	    /* the unmarshalled public area */
	uint8_t name[TPM_NAME_MAX]; /* nameAlg || H(TPMT_PUBLIC bytes received) */
	size_t name_len;
};

/* Parses a marshalled TPM2B_PUBLIC that must fill exactly n bytes (its size
 * field must match too) and computes its Name over the bytes received,
 * never over a re-marshalled copy. Returns 0, or -1 with e set. */
int tpm_public_parse(const uint8_t *b, size_t n, struct tpm_public *out, struct verr *e);

/* Builds an OpenSSL public key (RSA or ECC on a supported curve, point
 * checked to lie on it) from a public area. NULL with e set on failure;
 * the caller frees with EVP_PKEY_free. */
EVP_PKEY *tpm_public_to_pkey(const TPMT_PUBLIC *p, struct verr *e);

/* The SubjectPublicKeyInfo DER of an RSA or ECC public area, byte for byte
 * what i2d_PUBKEY() writes for tpm_public_to_pkey()'s key (a named curve
 * and an uncompressed point; rsaEncryption with NULL parameters), built
 * from the fields: OpenSSL 3.0's i2d_PUBKEY() assembles an encoder chain
 * per call (0.74 M instructions, most of a device-attest-01 check's key
 * handling). It checks sizes, not the point: call tpm_public_to_pkey()
 * for that. *der is the caller's to free (free()); returns 0 or -1. */
int tpm_public_spki(const TPMT_PUBLIC *p, uint8_t **der, size_t *len);

/* Qualified Name of child under a parent whose Qualified Name is
 * parent_qn (for a primary key: the 4-byte hierarchy handle, e.g.
 * TPM2_RH_ENDORSEMENT): QN = nameAlg || H(parent_qn || Name(child)).
 * Writes up to TPM_NAME_MAX bytes; returns 0 or -1. */
int tpm_public_qualified_name(const uint8_t *parent_qn, size_t plen, const struct tpm_public *child,
			      uint8_t *out, size_t *outlen);

#endif
