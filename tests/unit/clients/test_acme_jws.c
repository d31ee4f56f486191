/* clients/attest/acme.c (included): the JWS the agent and the bench sign.
 * dump() writes what json_dumps(JSON_COMPACT) writes, byte for byte, for
 * flat objects of plain strings and falls back to jansson for the rest;
 * jws() signs with the account's kept context, and every signature it
 * makes verifies (EVP_DigestVerify) under the account key, for kid and jwk
 * headers alike, and a changed input does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clients/attest/acme.c"

static void same_as_jansson(json_t *j)
{
	char *a = dump(j), *b = json_dumps(j, JSON_COMPACT);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(j);
}

static void test_dump(void **state)
{
	(void)state;
	same_as_jansson(json_object());
	same_as_jansson(json_pack("{s:s}", "csr", "MIIB-_abc"));
	same_as_jansson(json_pack("{s:s, s:s, s:s, s:s}", "alg", "ES256", "nonce", "n-1", "url",
				  "https://h:1/acme/x?a=b&c", "kid", "https://h/acme/account/9"));
	/* Escapes, control characters, non-ASCII, slashes: jansson's. */
	same_as_jansson(json_pack("{s:s}", "a", "quo\"te"));
	same_as_jansson(json_pack("{s:s}", "a", "back\\slash"));
	same_as_jansson(json_pack("{s:s}", "a", "tab\there"));
	same_as_jansson(json_pack("{s:s}", "a", "caf\xc3\xa9"));
	same_as_jansson(json_pack("{s:s}", "k\"ey", "v"));
	same_as_jansson(json_pack("{s:s#}", "nul", "a\0b", (size_t)3));
	/* Not only strings. */
	same_as_jansson(json_pack("{s:b}", "termsOfServiceAgreed", 1));
	same_as_jansson(
		json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "dns", "value", "x.test"));
	same_as_jansson(json_pack("{s:s, s:{s:s}}", "a", "b", "c", "d", "e"));
	same_as_jansson(json_pack("[s]", "x"));
	/* A long value (an attObj). */
	char *big = malloc(300001);
	assert_non_null(big);
	memset(big, 'A', 300000);
	big[300000] = '\0';
	same_as_jansson(json_pack("{s:s}", "attObj", big));
	free(big);
}

/* The JWS's signature verifies over "protected.payload" with the key. */
static void verify(EVP_PKEY *k, const char *body, bool want)
{
	json_t *j = json_loads(body, 0, NULL);
	assert_non_null(j);
	const char *p = json_string_value(json_object_get(j, "protected"));
	const char *pl = json_string_value(json_object_get(j, "payload"));
	const char *s = json_string_value(json_object_get(j, "signature"));
	assert_non_null(p);
	assert_non_null(pl);
	assert_non_null(s);
	size_t n = 0;
	uint8_t *rs = b64_decode(s, strlen(s), 1, &n);
	assert_non_null(rs);
	assert_int_equal(n, 64);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, 32, NULL), *sv = BN_bin2bn(rs + 32, 32, NULL);
	assert_int_equal(ECDSA_SIG_set0(sig, r, sv), 1);
	unsigned char *der = NULL;
	int dl = i2d_ECDSA_SIG(sig, &der);
	assert_true(dl > 0);
	char *input = NULL;
	assert_true(asprintf(&input, "%s.%s%s", p, pl, want ? "" : "x") > 0);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(
		EVP_DigestVerify(md, der, (size_t)dl, (const unsigned char *)input, strlen(input)),
		want ? 1 : 0);
	EVP_MD_CTX_free(md);
	free(input);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	free(rs);
	json_decref(j);
}

static void test_jws_verifies(void **state)
{
	(void)state;
	struct oa_acme a = {0};
	a.key = EVP_EC_gen("P-256");
	assert_non_null(a.key);
	a.nonce = strdup("nonce-1");
	char *b = jws(&a, "https://h/acme/new-account", "{\"termsOfServiceAgreed\":true}");
	assert_non_null(b);
	verify(a.key, b, true);
	verify(a.key, b, false);
	free(b);
	a.kid = strdup("https://h/acme/account/1");
	for (int i = 0; i < 50; i++) {
		char payload[64];
		snprintf(payload, sizeof payload, "{\"n\":\"%d\"}", i);
		b = jws(&a, "https://h/acme/order/1", i % 2 ? payload : "");
		assert_non_null(b);
		verify(a.key, b, true);
		free(b);
	}
	assert_non_null(a.sign); /* made once, kept */
	oa_acme_free(&a);
	assert_null(a.sign);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_jws_verifies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
