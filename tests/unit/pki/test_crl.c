/* pki/: a CRL that makes OpenSSL refuse the revoked leaf, pki_cert_inspect()
 * on ours and another CA's, and the revocation reasons by name. */
#include "tests/unit/pki/pki_test.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <time.h>

static void test_crl(void **state)
{
	char dir[256];
	struct pki_cert live, dead;
	uint8_t *der;
	size_t len;

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, NULL, NULL);
	assert_int_equal(pki_test_issue(ca, "p256", "tls-server", &live), PKI_OK);
	assert_int_equal(pki_test_issue(ca, "p256", "tls-server", &dead), PKI_OK);
	struct pki_revoked r[] = {{dead.serial, time(NULL) - 5, 1}};
	assert_int_equal(pki_crl(ca, r, 1, 42, 3600, &der, &len), 0);
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
	X509 *xl = pki_test_der_cert(&live), *xd = pki_test_der_cert(&dead);
	assert_int_equal(pki_test_verify(dir, xl, ca, crl, 0), 0);
	assert_int_equal(pki_test_verify(dir, xd, ca, crl, 0), X509_V_ERR_CERT_REVOKED);
	X509_REVOKED *rev = NULL;
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, xd), 1);
	ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
	ASN1_ENUMERATED_free(reason);
	/* pki_cert_inspect: ours gives back its serial and key. */
	char serial[33];
	uint8_t *spki = NULL;
	size_t slen = 0;
	unsigned char *want = NULL;
	int wlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(xl), &want);
	assert_int_equal(pki_cert_inspect(ca, live.der, live.der_len, serial, &spki, &slen), 0);
	assert_string_equal(serial, live.serial);
	assert_int_equal(slen, wlen);
	assert_memory_equal(spki, want, slen);
	free(spki);
	OPENSSL_free(want);
	assert_int_equal(pki_cert_inspect(ca, live.der, live.der_len - 1, serial, NULL, NULL), -1);
	live.der[live.der_len - 5] ^= 1; /* the signature */
	assert_int_equal(pki_cert_inspect(ca, live.der, live.der_len, serial, NULL, NULL), -1);
	live.der[live.der_len - 5] ^= 1;
	/* Another CA's certificate is not ours. */
	char other[256];
	pki_test_dir_new(other, sizeof other);
	struct pki_ca *ca2 = pki_test_ca_open(other, NULL, NULL);
	assert_int_equal(pki_cert_inspect(ca2, live.der, live.der_len, serial, NULL, NULL), -1);
	pki_ca_free(ca2);
	X509_free(xl);
	X509_free(xd);
	X509_CRL_free(crl);
	free(der);
	pki_cert_free(&live);
	pki_cert_free(&dead);
	pki_ca_free(ca);
	assert_int_equal(pki_reason_parse("keyCompromise"), 1);
	assert_int_equal(pki_reason_parse("cessationOfOperation"), 5);
	assert_int_equal(pki_reason_parse("bogus"), -1);
	assert_null(pki_reason_name(7));
	assert_string_equal(pki_reason_name(10), "aACompromise");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crl),
	};

	return pki_test_run("test_crl", tests, sizeof tests / sizeof tests[0]);
}
