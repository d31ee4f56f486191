/* Unit tests for EK helpers that need no TPM: the registration ID, and
 * certificate and roots-folder inputs that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "verifier/ek_cert.h"

static void test_registration_id(void **state)
{
	char id[64];

	(void)state;
	/* base32(SHA-256("")), lower case, unpadded */
	assert_int_equal(ek_registration_id((const uint8_t *)"", 0, id, sizeof(id)), 0);
	assert_string_equal(id, "4oymiquy7qobjgx36tejs35zeqt24qpemsnzgtfeswmrw6csxbkq");
	assert_int_equal(ek_registration_id((const uint8_t *)"", 0, id, 52), -1);
}

static void test_cert_parse_bad(void **state)
{
	static const uint8_t junk[] = {0x30, 0x82, 0x01, 0x00, 0x30, 0x03, 0x02, 0x01};
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	struct verr e = {0};

	(void)state;
	assert_null(ek_cert_parse(junk, sizeof(junk), &e));
	assert_string_equal(e.code, "ek-cert-malformed");
	assert_null(ek_cert_parse((const uint8_t *)pem, sizeof(pem) - 1, NULL));
	assert_null(ek_cert_parse(NULL, 0, NULL));
}

/* A self-signed certificate made here, to exercise the chain code. */
static X509 *self_signed(EVP_PKEY *k, long not_after_days)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"test-root", -1,
				   -1, 0);
	X509_set_subject_name(c, n);
	X509_set_issuer_name(c, n);
	X509_gmtime_adj(X509_getm_notBefore(c), -86400);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400 * not_after_days);
	X509_set_pubkey(c, k);
	X509_sign(c, k, EVP_sha256());
	X509_NAME_free(n);
	return c;
}

static void test_roots_and_mismatch(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *root = self_signed(k, 30);
	struct verr e = {0};
	struct ek_roots *r;
	TPMT_PUBLIC p;

	(void)state;
	assert_null(ek_roots_load_dir("/nonexistent/orchard", &e));
	assert_string_equal(e.code, "roots-read");
	/* a store holding only the root: the root itself verifies, an
	 * expired copy reports expiry by name */
	r = calloc(1, sizeof(*r));
	r->store = X509_STORE_new();
	r->untrusted = sk_X509_new_null();
	X509_STORE_add_cert(r->store, root);
	verr_clear(&e);
	assert_int_equal(ek_cert_verify(r, root, 0, &e), 0);
	verr_clear(&e);
	assert_int_equal(ek_cert_verify(r, root, (int64_t)time(NULL) + 86400 * 60, &e), -1);
	assert_string_equal(e.code, "ek-expired");
	verr_clear(&e);
	assert_int_equal(ek_cert_verify(r, root, (int64_t)time(NULL) - 86400 * 60, &e), -1);
	assert_string_equal(e.code, "ek-not-yet-valid");
	/* an RSA public area against an EC certificate, and a signing key */
	memset(&p, 0, sizeof(p));
	p.type = TPM2_ALG_RSA;
	p.nameAlg = TPM2_ALG_SHA256;
	p.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
			     TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
	p.parameters.rsaDetail.keyBits = 2048;
	p.unique.rsa.size = 256;
	memset(p.unique.rsa.buffer, 0xc3, 256);
	verr_clear(&e);
	assert_int_equal(ek_cert_match_public(root, &p, &e), -1);
	assert_string_equal(e.code, "ek-cert-mismatch");
	p.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT;
	verr_clear(&e);
	assert_int_equal(ek_cert_match_public(root, &p, &e), -1);
	assert_string_equal(e.code, "ek-attributes");
	ek_roots_free(r);
	ek_roots_free(NULL);
	X509_free(root);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registration_id),
		cmocka_unit_test(test_cert_parse_bad),
		cmocka_unit_test(test_roots_and_mismatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
