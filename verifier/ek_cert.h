/* Endorsement-key certificates: chain validation to a folder of TPM
 * manufacturer roots, the TCG EK profile quirks real certificates have,
 * and the binding of an EK public area to its certificate. */
#ifndef ORCHARD_VERIFIER_EK_CERT_H
#define ORCHARD_VERIFIER_EK_CERT_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/verr.h"

/* NV indices of EK certificates (TCG EK Credential Profile 2.0, 2.2.1.5). */
#define EK_NV_RSA2048 0x01c00002u
#define EK_NV_ECC_P256 0x01c0000au
#define EK_NV_ECC_P384 0x01c00016u

struct ek_roots {
	X509_STORE *store;	    /* self-signed roots: the trust anchors */
	STACK_OF(X509) * untrusted; /* everything else in the folder: intermediates */
	size_t nroots, nintermediates;
};

/* Loads every certificate (PEM, several per file allowed, or DER) in dir:
 * self-signed ones become trust anchors, the rest candidate intermediates
 * that must themselves chain to an anchor. NULL with e set on failure or
 * when dir holds no root. Free with ek_roots_free. */
struct ek_roots *ek_roots_load_dir(const char *dir, struct verr *e);
void ek_roots_free(struct ek_roots *r);

/* The same from n bytes of PEM text holding one or more certificates
 * (a DPS enrollment group's manufacturer roots). An intermediate whose
 * root is not among them trusts nothing: ek_cert_verify then fails with
 * "ek-chain". NULL with e set when out of memory or no certificate is
 * there ("roots-empty"). */
struct ek_roots *ek_roots_load_pem(const char *pem, size_t n, struct verr *e);

/* Parses one certificate in DER or PEM. NULL with e set; X509_free. */
X509 *ek_cert_parse(const uint8_t *b, size_t n, struct verr *e);

/* Validates cert's chain to roots at time at (Unix seconds; 0 means now).
 * Tolerated on purpose, because real EK certificates carry them: an empty
 * subject with a critical SAN of TPM manufacturer/model/version attributes,
 * the tcg-kp-EKCertificate EKU, key usage keyEncipherment/keyAgreement
 * only, and unhandled critical extensions whose OIDs are TCG's own
 * (2.23.133.*) or Subject Directory Attributes. Everything else (bad
 * signature, expiry, unknown critical extension, no path) fails:
 * "ek-chain", "ek-expired", "ek-not-yet-valid". Returns 0 or -1. */
int ek_cert_verify(const struct ek_roots *roots, X509 *cert, int64_t at, struct verr *e);

/* Checks that p looks like an EK (restricted decryption key, fixedTPM,
 * fixedParent, sensitiveDataOrigin, no sign) and that its key is the
 * certificate's key ("ek-cert-mismatch"). Returns 0 or -1 with e set. */
int ek_cert_match_public(X509 *cert, const TPMT_PUBLIC *p, struct verr *e);

/* The device's stable registration ID: lower-case RFC 4648 base32 without
 * padding of SHA-256 over the marshalled TPM2B_PUBLIC of the EK, as the
 * Azure IoT SDKs derive a TPM registration ID (a valid DPS registrationId:
 * [a-z2-7], 52 characters). out needs 53 bytes. Returns 0 or -1. */
int ek_registration_id(const uint8_t *ek_tpm2b_public, size_t n, char *out, size_t cap);

#endif
