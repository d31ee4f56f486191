/* What pki/ shares between its files and its unit tests: the CA and the
 * profile structs. Not for callers outside pki/ (they use pki/pki.h). */
#ifndef ORCHARD_PKI_INT_H
#define ORCHARD_PKI_INT_H
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/types.h>

#include "pki/pki.h"
#include "pki/signer.h"

#define PKI_PROFILES_MAX 16
#define PKI_BACKDATE 60 /* seconds: notBefore lies this far back for clock skew */

/* Leaf key types a profile may allow (a bit each). */
enum pki_key_bit { PKI_KEY_P256 = 1, PKI_KEY_P384 = 2, PKI_KEY_RSA = 4, PKI_KEY_ED25519 = 8 };

struct pki_profile {
	char name[32];
	long lifetime;	     /* seconds */
	unsigned keys;	     /* enum pki_key_bit */
	char key_usage[128]; /* "digitalSignature,keyEncipherment" (always critical) */
	char ext_usage[128]; /* "serverAuth,clientAuth" */
	char describe[512];  /* one line for ACME's directory */
	X509_EXTENSION *ku;  /* made from key_usage */
	X509_EXTENSION *eku; /* made from ext_usage; NULL when empty */
};

struct pki_ca {
	struct pki_signer *signer; /* the intermediate's key */
	X509 *root, *cert;	   /* root and issuing intermediate */
	char *chain_pem;	   /* intermediate + root */
	char *root_pem;
	char *cert_pem;		  /* the intermediate alone, appended to leaves */
	X509_EXTENSION *aki, *bc; /* same in every leaf */
	X509_EXTENSION *cdp;	  /* CRL Distribution Points; NULL: none */
	/* The attestation CA: a second intermediate under the root that signs
	 * AK certificates only (pki_issue_ak()); all NULL when there is none. */
	struct pki_signer *att_signer;
	X509 *att_cert;
	char *att_pem;
	X509_EXTENSION *att_aki, *att_cdp;
	struct pki_profile profiles[PKI_PROFILES_MAX];
	size_t nprofiles;
	const char *names[PKI_PROFILES_MAX + 1];
};

/* Loads profiles from path (NULL: the built-in three) into ca. 0, or -1
 * with why in err (file and line). */
int pki_profiles_load(struct pki_ca *ca, const char *path, char *err, size_t errlen);
void pki_profiles_free(struct pki_ca *ca);
const struct pki_profile *pki_profile_find(const struct pki_ca *ca, const char *name);

/* pki/ca.c: creates path and its missing parents (0755), path itself with
 * mode. 0, or -1. */
int pki__mkdir_p(const char *path, mode_t mode);

/* pki/signer.c: writes cert (key NULL; mode 0644) or the private key key
 * (mode 0600; PKCS#8 encrypted with AES-256 when passphrase is set and not
 * empty) as PEM to path through path.tmp.PID and rename(), so a reader
 * never sees half a file. 0, or -1 with nothing left behind. */
int pki__pem_write(const char *path, X509 *cert, EVP_PKEY *key, const char *passphrase);

/* pki/ca.c: adds the extension nid with value in openssl's config syntax
 * ("critical,CA:TRUE", "keyid:always") to cert, whose issuer (cert itself
 * when self-signed) gives the authority key. 1, or 0 when the value does
 * not parse or the add fails. */
int pki__ext_add(X509 *cert, X509 *issuer, int nid, const char *value);

/* pki/csr_parse.c: a request parsed (struct pki_csr_info.parsed, and
 * issue.c's own). pki__csr_parse() reads a whole DER CSR (trailing bytes
 * refused) and loads its key (NULL when OpenSSL cannot use it), or returns
 * NULL; pki__csr_free() takes NULL. pki__csr_verify() is 1 when there is a
 * key and the self-signature verifies with it. The subject and
 * the SPKI's fields are the request's (not copies); the extensions and the
 * SPKI DER are the caller's to free. */
struct pki_csr {
	struct PKI_CSR_ASN_st *asn;
	EVP_PKEY *key;
};
struct pki_csr *pki__csr_parse(const uint8_t *der, size_t len);
void pki__csr_free(struct pki_csr *c);
int pki__csr_verify(const struct pki_csr *c);
X509_NAME *pki__csr_subject(const struct pki_csr *c);
STACK_OF(X509_EXTENSION) * pki__csr_extensions(const struct pki_csr *c);
int pki__csr_spki(const struct pki_csr *c, const X509_ALGOR **alg, const unsigned char **key,
		  int *keylen);
int pki__csr_spki_der(const struct pki_csr *c, unsigned char **der);

/* pki/csr.c: the type name of a leaf key and its enum pki_key_bit (0
 * when no profile could allow it). */
unsigned pki__key_classify(EVP_PKEY *key, char *name, size_t len);

/* pki/issue.c, for ak.c: a fresh 128-bit random serial into x and as
 * hex into serial. 0 or -1. */
int pki__serial_set(X509 *x, char serial[33]);
/* Adds the SAN extension made of first (a directoryName, taken, may be
 * NULL; "DirName:/2.23.133.2.1=..." in text) and sans[0..n), writing them
 * as text. 1, or 0 with why set. */
int pki__sans_add(X509 *x, GENERAL_NAME *first, const struct pki_san *sans, size_t nsans,
		  int critical, char *text, size_t len, char *why, size_t whylen);

#endif
