/* The DPS TPM flow, device side (libattestclient.a, docs/dps.md "TPM
 * attestation"): the EK and SRK as DPS wants them, the authenticationKey
 * blob opened inside the TPM (ActivateCredential with the EK, Import under
 * the SRK) and TPM2_HMAC with the imported key, which never leaves the TPM:
 * only its public area and its SRK-wrapped private area are kept, and
 * loaded again for each HMAC, so a restart signs with the same key.
 * Every call leaves no transient object behind; TPM_RC_RETRY, YIELDED and
 * TESTING are retried with short backoff. Errors: -1 with a line in err
 * (OA_ERR_MAX), never key material. */
#ifndef ORCHARD_CLIENTS_DPS_TPM_H
#define ORCHARD_CLIENTS_DPS_TPM_H
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_esys.h>

#include "clients/attest/attest.h"

#define OA_EK_RSA_HANDLE 0x81010001u
#define OA_EK_ECC_HANDLE 0x81010002u
#define OA_SRK_HANDLE 0x81000001u

/* The ESYS context of an open TPM (tpm.c), for the oa_tpm_* families
 * that live in their own files. */
ESYS_CONTEXT *oa_tpm_esys(struct oa_tpm *t);

/* oa_tpm_open, then flushes the transient objects and sessions a crashed
 * process left in a TPM without a resource manager (swtpm's socket);
 * *flushed (may be NULL) counts them. */
struct oa_tpm *oa_tpm_open_clean(const char *tcti, int *flushed, char *err);

/* The EK (persistent 0x81010001; else the TCG RSA-2048 EK template as a
 * primary; ECC P-256 (0x81010002 or its template) only when the TPM has no
 * RSA EK) and the SRK (persistent 0x81000001, else the TCG RSA-2048 SRK
 * template), each a marshalled TPM2B_PUBLIC as DPS's endorsementKey and
 * storageRootKey carry them (base64 on the wire). *ek_cert (DER) is the EK
 * certificate from its TCG NV index (0x01c00002 RSA, 0x01c0000a ECC) when
 * the EK is persistent and the TPM has one, else empty. */
int oa_tpm_dps_keys(struct oa_tpm *t, struct oa_buf *ek_pub, struct oa_buf *srk_pub,
		    struct oa_buf *ek_cert, char *err);

/* The registration ID DPS expects of a TPM device: lower-case base32
 * (RFC 4648, padding stripped) of SHA-256 over the EK's TPM2B_PUBLIC. */
void oa_dps_registration_id(const struct oa_buf *ek_pub, char out[64]);

/* An authenticationKey blob, parsed: six TPM2Bs (TPM2B_ID_OBJECT,
 * TPM2B_ENCRYPTED_SECRET, TPM2B_PRIVATE duplicate, TPM2B_ENCRYPTED_SECRET
 * seed, TPM2B_PUBLIC, an empty TPM2B), nothing after; pub_raw points into
 * the blob (the TPM2B_PUBLIC as sent). 0, or -1 with err. */
struct oa_dps_authkey {
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET secret, seed;
	TPM2B_PRIVATE dup;
	TPM2B_PUBLIC pub;
	const uint8_t *pub_raw;
	size_t pub_len;
};
int oa_dps_authkey_parse(const uint8_t *blob, size_t n, struct oa_dps_authkey *k, char *err);

/* Opens an authenticationKey blob (decoded from base64: TPM2B_ID_OBJECT,
 * TPM2B_ENCRYPTED_SECRET, TPM2B_PRIVATE duplicate, TPM2B_ENCRYPTED_SECRET
 * seed, TPM2B_PUBLIC, an empty TPM2B): ActivateCredential(SRK, EK under
 * PolicySecret(endorsement) unless the EK has userWithAuth), then Import
 * under the SRK. *key_pub is the HMAC key's TPM2B_PUBLIC, *key_priv its
 * TPM2B_PRIVATE wrapped by the SRK: both safe to store. */
int oa_tpm_dps_import(struct oa_tpm *t, const uint8_t *blob, size_t n, struct oa_buf *key_pub,
		      struct oa_buf *key_priv, char *err);

/* Loads the key (blobs from oa_tpm_dps_import) under the SRK, TPM2_HMAC
 * of msg (at most 1024 bytes) into mac, flushes it. */
int oa_tpm_dps_hmac(struct oa_tpm *t, const struct oa_buf *key_pub, const struct oa_buf *key_priv,
		    const uint8_t *msg, size_t n, uint8_t mac[32], char *err);

#endif
