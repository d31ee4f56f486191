/* DPS TPM attestation: a device's EK and SRK as it sends them, comparing
 * EKs, EK certificates against a TPM enrollment group's manufacturer roots,
 * and the authenticationKey only that TPM can open (the verifier builds
 * it: verifier/dps_authkey.c). No HTTP, no database. */
#ifndef ORCHARD_DPS_TPM_H
#define ORCHARD_DPS_TPM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "server/dps_sas.h"
#include "verifier/tpm_public.h"
#include "verifier/verr.h"

/* Largest TPM2B_PUBLIC and EK certificate accepted, decoded. */
#define DPS_TPM_PUB_MAX 1024
#define DPS_TPM_CERT_MAX 4096
/* Seconds a TPM device may sign with the authenticationKey of a 401. */
#define DPS_TPM_CHALLENGE_TTL 3600

/* Decodes b64 (standard base64) into a TPM2B_PUBLIC: *out parsed, raw
 * (DPS_TPM_PUB_MAX bytes) and *rawlen hold the bytes. 0, or -1 with e set
 * ("bad-base64" or the parser's reason). */
int dps_tpm_public(const char *b64, struct tpm_public *out, uint8_t *raw, size_t *rawlen,
		   struct verr *e);

/* Whether a and b are the same key: type and public value (the RSA modulus
 * or the ECC point); attributes and the SRK play no part. */
bool dps_tpm_same_key(const TPMT_PUBLIC *a, const TPMT_PUBLIC *b);

/* A new 32-byte HMAC key for the TPM whose EK and SRK are ek_b64 and
 * srk_b64 (base64 TPM2B_PUBLIC): key_b64 receives the key, *blob_b64 (malloc'd)
 * the authenticationKey. 0, or -1 with e set (the keys are unusable:
 * malformed, or not RSA with AES-128-CFB). */
int dps_tpm_authkey_new(const char *ek_b64, const char *srk_b64, char key_b64[DPS_KEY_B64_MAX],
			char **blob_b64, struct verr *e);

/* Whether cert chains to the manufacturer roots an enrollment group's
 * attestation parameters hold ({"rootCertificates": [PEM, ...]}) and its
 * key is ek's. false with e set otherwise. */
bool dps_tpm_group_accepts(const char *params_json, X509 *cert, const TPMT_PUBLIC *ek,
			   struct verr *e);

#endif
