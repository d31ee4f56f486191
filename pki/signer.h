/* The narrow door to a CA private key. A signer owns its key and signs
 * bytes; nothing outside pki/signer.c holds the EVP_PKEY. The operations are
 * a table (struct pki_signer_ops), the shape of OpenBSD relayd's ca.c and
 * acme-client's keyproc.c: a key in its own process, a PKCS#11 token or a
 * TPM is one more table, and callers do not change. */
#ifndef ORCHARD_PKI_SIGNER_H
#define ORCHARD_PKI_SIGNER_H
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct pki_signer;

/* Key algorithms a signer may hold; the signature algorithm follows:
 * ecdsa-with-SHA256 (P-256), ecdsa-with-SHA384 (P-384), sha256WithRSA. */
enum pki_signer_alg { PKI_SIGNER_P256, PKI_SIGNER_P384, PKI_SIGNER_RSA };

/* Loads a PEM private key from path (decrypting it with passphrase when it
 * is encrypted). Refuses a key file that group or others may read. NULL
 * after writing why into err (never key material). */
struct pki_signer *pki_signer_open_file(const char *path, const char *passphrase, char *err,
					size_t errlen);

/* Creates a new key of key_type ("p256", "p384", "rsa2048", "rsa3072",
 * "rsa4096") and writes it to path, mode 0600 (encrypted with AES-256 when
 * passphrase is set), through a temporary file and rename(). NULL on
 * failure, after writing why into err. */
struct pki_signer *pki_signer_create_file(const char *path, const char *key_type,
					  const char *passphrase, char *err, size_t errlen);
void pki_signer_free(struct pki_signer *s);

enum pki_signer_alg pki_signer_alg(const struct pki_signer *s);

/* The signer's public key as SubjectPublicKeyInfo DER (malloc'd, caller
 * frees). Returns 0 or -1. */
int pki_signer_public_der(const struct pki_signer *s, uint8_t **der, size_t *len);

/* Signs tbs with the signer's algorithm; sig receives a DER ECDSA or a raw
 * RSA signature. *siglen is the room in sig, then the length. 0 or -1.
 * Thread-safe. */
int pki_sign_bytes(struct pki_signer *s, const uint8_t *tbs, size_t len, uint8_t *sig,
		   size_t *siglen);

/* Fills both signature algorithm fields of cert (or crl), encodes its TBS
 * part and signs it with pki_sign_bytes(). 0 or -1. */
int pki_sign_cert(struct pki_signer *s, X509 *cert);
int pki_sign_crl(struct pki_signer *s, X509_CRL *crl);

/* Certificate helpers shared by ca.c and issue.c: does the signer's key match
 * cert's public key (1), not (0). */
int pki_signer_matches(const struct pki_signer *s, X509 *cert);

#endif
