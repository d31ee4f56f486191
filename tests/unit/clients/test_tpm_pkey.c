/* clients/attest/tpm_pkey.c without a TPM: loading the orchard-tpm
 * provider leaves plain "EC" and "RSA" fetches on the default provider;
 * a public key imported into it equals the default provider's key (as
 * libssl's certificate/key check needs) but has no private half, refuses
 * to export one, and signing with it fails cleanly instead of crashing.
 * The TPM half (TLS 1.3 and 1.2 handshakes, ECDSA and RSA-PSS) runs in
 * tests/integration/device_mtls.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/err.h>

#include "clients/attest/tpm_pkey.c"

static const char *provider_of(const EVP_PKEY *k)
{
	return OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(k));
}

/* A public-only key of the orchard-tpm provider, made from pub's data. */
static EVP_PKEY *tpm_public(EVP_PKEY *pub, const char *type)
{
	OSSL_PARAM *data = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, PROPS);
	EVP_PKEY *k = NULL;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY, &data), 1);
	assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
	assert_int_equal(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, data), 1);
	OSSL_PARAM_free(data);
	EVP_PKEY_CTX_free(c);
	return k;
}

static void test_fetch_stays_default(void **state)
{
	EVP_PKEY *ec, *rsa;

	(void)state;
	pthread_once(&once, load);
	assert_true(loaded);
	ec = EVP_EC_gen("P-256");
	rsa = EVP_RSA_gen(2048);
	assert_non_null(ec);
	assert_non_null(rsa);
	assert_string_equal(provider_of(ec), "default");
	assert_string_equal(provider_of(rsa), "default");
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void check_type(const char *type, EVP_PKEY *full, EVP_PKEY *other)
{
	EVP_PKEY *k = tpm_public(full, type);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t len = sizeof sig;
	OSSL_PARAM *data = NULL;

	assert_string_equal(provider_of(k), PROV_NAME);
	assert_true(EVP_PKEY_is_a(k, type));
	assert_int_equal(EVP_PKEY_eq(full, k), 1);
	assert_int_equal(EVP_PKEY_eq(k, full), 1);
	assert_int_not_equal(EVP_PKEY_eq(other, k), 1);
	assert_int_equal(EVP_PKEY_get_bits(k), EVP_PKEY_get_bits(full));
	assert_int_equal(EVP_PKEY_get_size(k), EVP_PKEY_get_size(full));
	/* the public half exports; a keypair export is refused */
	assert_int_equal(EVP_PKEY_todata(k, EVP_PKEY_PUBLIC_KEY, &data), 1);
	OSSL_PARAM_free(data);
	data = NULL;
	assert_int_not_equal(EVP_PKEY_todata(k, EVP_PKEY_KEYPAIR, &data), 1);
	OSSL_PARAM_free(data);
	/* no TPM behind it: signing fails, cleanly */
	ERR_set_mark();
	assert_true(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
		    EVP_DigestSign(md, sig, &len, (const unsigned char *)"x", 1) != 1);
	ERR_pop_to_mark();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
}

static void test_ec_public(void **state)
{
	EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");

	(void)state;
	pthread_once(&once, load);
	check_type("EC", a, b);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static void test_rsa_public(void **state)
{
	EVP_PKEY *a = EVP_RSA_gen(2048), *b = EVP_RSA_gen(2048);

	(void)state;
	pthread_once(&once, load);
	check_type("RSA", a, b);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static void test_pss_params(void **state)
{
	struct sig s = {.bits = 256};
	OSSL_PARAM pss[] = {OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, "pss", 0),
			    OSSL_PARAM_END};
	OSSL_PARAM x931[] = {OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, "x931", 0),
			     OSSL_PARAM_END};
	int max = RSA_PSS_SALTLEN_MAX, digest = RSA_PSS_SALTLEN_DIGEST, n32 = 32;
	OSSL_PARAM salt_max[] = {OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &max),
				 OSSL_PARAM_END};
	OSSL_PARAM salt_digest[] = {OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &digest),
				    OSSL_PARAM_END};
	OSSL_PARAM salt_32[] = {OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &n32),
				OSSL_PARAM_END};

	(void)state;
	pss[0].data_size = 3;
	x931[0].data_size = 4;
	assert_int_equal(sig_set_ctx_params(&s, pss), 1);
	assert_true(s.pss);
	assert_int_equal(sig_set_ctx_params(&s, x931), 0);
	assert_int_equal(sig_set_ctx_params(&s, salt_digest), 1);
	assert_int_equal(sig_set_ctx_params(&s, salt_32), 1);
	assert_int_equal(sig_set_ctx_params(&s, salt_max),
			 0); /* the TPM's salt is the digest's length */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_stays_default),
		cmocka_unit_test(test_ec_public),
		cmocka_unit_test(test_rsa_public),
		cmocka_unit_test(test_pss_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
