/* Helpers shared by the pki/ unit tests that issue from a CA of their own:
 * a scratch folder per CA, CSRs for every leaf key type, issuance with one
 * DNS name, and OpenSSL's verdict on a leaf against the CA's root. */
#ifndef ORCHARD_TESTS_PKI_PKI_TEST_H
#define ORCHARD_TESTS_PKI_PKI_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/pki.h"

/* One DNS name, device.example: what issue() asks for. */
extern const struct pki_san pki_test_one_dns[];

/* Makes the scratch folder, runs the group named group, removes the folder. Returns
 * cmocka's result, or 1 when the folder could not be made or removed. */
int pki_test_run(const char *group, const struct CMUnitTest *tests, size_t n);

/* A new folder name (not yet made) under the scratch folder for one CA. */
void pki_test_dir_new(char *out, size_t len);

/* pki_ca_open() with a folder, a CA key type (NULL: the default) and a
 * passphrase (NULL: none); prints why on failure and returns NULL. */
struct pki_ca *pki_test_ca_open(const char *dir, const char *type, const char *pass);

/* A new key of type p256, p384, p521, rsa1024, rsa2048 or ed25519; NULL
 * for another name. The caller frees it. */
EVP_PKEY *pki_test_key_make(const char *type);

/* A CSR (DER, malloc'd, *len its size) for a new key of type, signed by
 * that key. */
uint8_t *pki_test_csr_make(const char *type, size_t *len);

/* pki_issue() of a new key of keytype with profile and the one DNS name. */
enum pki_status pki_test_issue(struct pki_ca *ca, const char *keytype, const char *profile,
			       struct pki_cert *out);

/* The issued certificate parsed (X509_free); fails the test if it does not. */
X509 *pki_test_der_cert(const struct pki_cert *c);

/* Verifies x against dir/root.pem with the chain's intermediate and, when
 * crl is set, CRL checking; purpose 0 checks none. Returns OpenSSL's verify
 * error (0: valid). */
int pki_test_verify(const char *dir, X509 *x, const struct pki_ca *ca, X509_CRL *crl, int purpose);

/* strcmp() for qsort() over fixed-size strings (serials). */
int pki_test_cmp_str(const void *a, const void *b);

#endif
