/* clients/attest/ari.c: the RFC 9773 certID of a certificate (the serial's
 * DER content octets, with the zero byte a high bit needs) checked against
 * acme/ari.c, the server's parser, and the renewal time picked inside the
 * window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ari.h"
#include "clients/attest/attest.h"
#include "common/hex.h"

/* A self-signed certificate with serial hex and an authority key id. */
static void make_cert(const char *serial_hex, struct oa_buf *pem)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;

	assert_true(BN_hex2bn(&bn, serial_hex) > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	PEM_write_bio_X509(bio, x);
	BIO_get_mem_ptr(bio, &mem);
	pem->b = malloc(mem->length);
	memcpy(pem->b, mem->data, mem->length);
	pem->n = mem->length;
	BIO_free(bio);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void check_serial(const char *serial_hex)
{
	struct oa_buf pem = {0};
	char err[OA_ERR_MAX], serial[33];
	uint8_t aki[ACME_ARI_AKI_MAX];
	size_t aki_len = 0;
	char *id;

	make_cert(serial_hex, &pem);
	id = oa_acme_cert_id(&pem, err);
	assert_non_null(id);
	assert_int_equal(acme_ari_parse(id, aki, &aki_len, serial), 0);
	assert_string_equal(serial, serial_hex);
	assert_int_equal(aki_len, 20);
	free(id);
	oa_buf_free(&pem);
}

static void test_cert_id(void **state)
{
	(void)state;
	check_serial("7f0102030405060708090a0b0c0d0e0f"); /* no zero byte */
	check_serial("8f0102030405060708090a0b0c0d0e0f"); /* a high bit: a zero byte */
}

static void test_cert_id_refusals(void **state)
{
	struct oa_buf junk = {(uint8_t *)"not a certificate", 17};
	char err[OA_ERR_MAX] = "";

	(void)state;
	assert_null(oa_acme_cert_id(&junk, err));
	assert_non_null(strstr(err, "authority key identifier"));
}

static void test_pick(void **state)
{
	struct oa_renewal w = {.start = 1000, .end = 2000};

	(void)state;
	for (int i = 0; i < 200; i++) {
		long long t = oa_renewal_pick(&w, 500);
		assert_true(t >= 1000 && t < 2000);
		t = oa_renewal_pick(&w, 1500);
		assert_true(t >= 1500 && t < 2000);
	}
	assert_int_equal(oa_renewal_pick(&w, 2500), 2500); /* past: now */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_id),
		cmocka_unit_test(test_cert_id_refusals),
		cmocka_unit_test(test_pick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
