/* Allocation-failure torture for acme/: every allocation in JWS parsing,
 * JWK parsing and signature verification fails in turn (acme/'s own,
 * OpenSSL's and jansson's); each run must fail cleanly with a code or
 * succeed correctly, never crash or leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "acme/jws.h"
#include "tests/unit/acme/jose_test.h"
#include "tests/unit/fail_alloc.h"

static void *ossl_malloc(size_t n, const char *f, int l)
{
	(void)f, (void)l;
	return __wrap_malloc(n);
}
static void *ossl_realloc(void *p, size_t n, const char *f, int l)
{
	(void)f, (void)l;
	return __wrap_realloc(p, n);
}
static void ossl_free(void *p, const char *f, int l)
{
	(void)f, (void)l;
	free(p);
}
static void *json_malloc(size_t n)
{
	return __wrap_malloc(n);
}

/* One full check of a request; 0 when it verified. */
static int check(json_t *body, struct acme_err *e)
{
	struct acme_jws jws;
	struct acme_jwk k, stored;
	int rc = -1;

	if (acme_jws_parse(body, &jws, e) != 0)
		return -1;
	if (acme_jwk_parse(jws.jwk, &k, e) == 0) {
		if (acme_jwk_parse_text(k.canonical, &stored, e) == 0) {
			rc = acme_jws_verify(&jws, stored.pkey, e);
			acme_jwk_free(&stored);
		}
		acme_jwk_free(&k);
	}
	acme_jws_free(&jws);
	return rc;
}

static void torture(const char *type, const char *param, const char *alg)
{
	EVP_PKEY *key = strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", param)
			: strcmp(type, "RSA") == 0
				? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
				: EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	json_t *hdr = json_pack("{s:s, s:o, s:s, s:s}", "alg", alg, "jwk", jwk_of(key), "nonce",
				"n", "url", "https://ca.test/acme/new-account");
	json_t *body = sign(key, alg, hdr, "{\"contact\":[]}");
	struct acme_err e;
	long n, ok = 0;

	for (n = 1; n < 5000; n++) {
		fail_at = n;
		seen = 0;
		int rc = check(body, &e);
		fail_at = -1;
		if (rc == 0)
			ok++;
		if (seen < n) /* no allocation was left to fail: it must have passed */
			break;
	}
	assert_int_equal(check(body, &e), 0);
	assert_true(n < 5000);
	assert_true(ok >= 1);
	json_decref(body);
	EVP_PKEY_free(key);
}

static void test_es256(void **state)
{
	(void)state;
	torture("EC", "P-256", "ES256");
}

static void test_es384(void **state)
{
	(void)state;
	torture("EC", "P-384", "ES384");
}

static void test_rs256(void **state)
{
	(void)state;
	torture("RSA", NULL, "RS256");
}

static void test_eddsa(void **state)
{
	(void)state;
	torture("ED25519", NULL, "EdDSA");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_es256),
		cmocka_unit_test(test_es384),
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_eddsa),
	};

	CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
	json_set_alloc_funcs(json_malloc, free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
