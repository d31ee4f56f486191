/* acme/ JOSE unit tests: JWKs of every supported type signed for real with
 * OpenSSL, RFC 7638's thumbprint example, and every refusal of the JWS
 * parser and verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>

#include "acme/jws.h"
#include "common/b64.h"

#include "tests/unit/acme/jose_test.h"

static json_t *hdr_jwk(EVP_PKEY *key, const char *alg)
{
	return json_pack("{s:s, s:o, s:s, s:s}", "alg", alg, "jwk", jwk_of(key), "nonce", "n1",
			 "url", "https://ca.test/acme/new-account");
}

/* Parses and verifies a request signed by a fresh key of each type. */
static void round_trip(EVP_PKEY *key, const char *alg)
{
	json_t *body = sign(key, alg, hdr_jwk(key, alg), "{\"contact\":[]}");
	struct acme_jws jws;
	struct acme_jwk k;
	struct acme_err e;

	assert_int_equal(acme_jws_parse(body, &jws, &e), 0);
	assert_string_equal(jws.nonce, "n1");
	assert_string_equal(jws.url, "https://ca.test/acme/new-account");
	assert_null(jws.kid);
	assert_int_equal(acme_jwk_parse(jws.jwk, &k, &e), 0);
	assert_int_equal(strlen(k.thumbprint), ACME_THUMBPRINT_LEN);
	assert_int_equal(acme_jws_verify(&jws, k.pkey, &e), 0);
	assert_string_equal((char *)jws.payload, "{\"contact\":[]}");
	/* The stored canonical form gives the same key back. */
	struct acme_jwk k2;
	assert_int_equal(acme_jwk_parse_text(k.canonical, &k2, &e), 0);
	assert_string_equal(k.thumbprint, k2.thumbprint);
	assert_int_equal(acme_jws_verify(&jws, k2.pkey, &e), 0);
	assert_int_equal(acme_jwk_verify(&jws, &k, &e), 0);
	assert_int_equal(acme_jwk_verify(&jws, &k2, &e), 0);
	/* A flipped payload byte no longer verifies. */
	jws.signing_input[jws.signing_input_len - 2] ^= 1;
	assert_int_equal(acme_jws_verify(&jws, k.pkey, &e), -1);
	assert_int_equal(e.code, ERR_ACME_MALFORMED);
	assert_int_equal(acme_jwk_verify(&jws, &k, &e), -1);
	assert_int_equal(e.code, ERR_ACME_MALFORMED);
	acme_jwk_free(&k);
	acme_jwk_free(&k2);
	acme_jws_free(&jws);
	json_decref(body);
}

static void test_es256(void **state)
{
	(void)state;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	round_trip(k, "ES256");
	EVP_PKEY_free(k);
}

static void test_es384(void **state)
{
	(void)state;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	round_trip(k, "ES384");
	EVP_PKEY_free(k);
}

static void test_rs256(void **state)
{
	(void)state;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	round_trip(k, "RS256");
	EVP_PKEY_free(k);
}

static void test_eddsa(void **state)
{
	(void)state;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	round_trip(k, "EdDSA");
	EVP_PKEY_free(k);
}

/* RFC 7638 section 3.1's example key and thumbprint. */
static void test_thumbprint_rfc7638(void **state)
{
	(void)state;
	const char *n =
		"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPF"
		"FxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lq"
		"t7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6q"
		"MQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHa"
		"Q-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "n", n, "e", "AQAB", "alg",
			      "RS256");
	struct acme_jwk k;
	struct acme_err e;

	assert_int_equal(acme_jwk_parse(j, &k, &e), 0);
	assert_string_equal(k.thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	acme_jwk_free(&k);
	json_decref(j);
}

static void expect_jwk_refused(json_t *j, enum err_code code)
{
	struct acme_jwk k;
	struct acme_err e;

	assert_int_equal(acme_jwk_parse(j, &k, &e), -1);
	assert_int_equal(e.code, code);
	assert_null(k.pkey);
	json_decref(j);
}

static void test_jwk_refusals(void **state)
{
	(void)state;
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	json_t *good = jwk_of(ec), *j;
	const char *x = json_string_value(json_object_get(good, "x"));

	expect_jwk_refused(json_pack("{s:s}", "kty", "oct"), ERR_ACME_BAD_PUBLIC_KEY);
	expect_jwk_refused(
		json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-521", "x", x, "y", x),
		ERR_ACME_BAD_PUBLIC_KEY);
	expect_jwk_refused(
		json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x, "y", x),
		ERR_ACME_BAD_PUBLIC_KEY); /* not on the curve */
	expect_jwk_refused(
		json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", "AAAA", "y", x),
		ERR_ACME_MALFORMED); /* short */
	expect_jwk_refused(
		json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", "AA==", "y", x),
		ERR_ACME_MALFORMED); /* padded: not strict base64url */
	j = json_deep_copy(good);
	json_object_set_new(j, "d", json_string("AAAA"));
	expect_jwk_refused(j, ERR_ACME_MALFORMED); /* private key */
	expect_jwk_refused(json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", "AQAB", "e", "AQAB"),
			   ERR_ACME_BAD_PUBLIC_KEY); /* tiny */
	expect_jwk_refused(json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "X25519", "x", x),
			   ERR_ACME_BAD_PUBLIC_KEY);
	expect_jwk_refused(json_pack("{s:i}", "kty", 1), ERR_ACME_MALFORMED);
	expect_jwk_refused(json_string("x"), ERR_ACME_MALFORMED);
	json_decref(good);
	EVP_PKEY_free(ec);
}

static void expect_jws_refused(json_t *body, enum err_code code, const char *needle)
{
	struct acme_jws jws;
	struct acme_err e;

	assert_int_equal(acme_jws_parse(body, &jws, &e), -1);
	assert_int_equal(e.code, code);
	if (needle && strstr(e.detail, needle) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", e.detail, needle);
	assert_null(jws.header);
	json_decref(body);
}

static void test_jws_refusals(void **state)
{
	(void)state;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	json_t *h, *body;

	expect_jws_refused(json_pack("[]"), ERR_ACME_MALFORMED, "flattened");
	body = sign(k, "ES256", hdr_jwk(k, "ES256"), "{}");
	json_object_set_new(body, "header", json_object());
	expect_jws_refused(body, ERR_ACME_MALFORMED, "header");
	body = sign(k, "ES256", hdr_jwk(k, "ES256"), "{}");
	json_object_del(body, "signature");
	expect_jws_refused(body, ERR_ACME_MALFORMED, "signature");
	body = sign(k, "ES256", hdr_jwk(k, "ES256"), "{}");
	json_object_set_new(body, "protected", json_string("e30="));
	expect_jws_refused(body, ERR_ACME_MALFORMED, "base64url");
	body = sign(k, "ES256", hdr_jwk(k, "ES256"), "{}");
	json_object_set_new(body, "payload", json_string("e30!"));
	expect_jws_refused(body, ERR_ACME_MALFORMED, "payload");
	body = sign(k, "ES256", hdr_jwk(k, "ES256"), "{}");
	json_object_set_new(body, "protected", json_string("bm90IGpzb24"));
	expect_jws_refused(body, ERR_ACME_MALFORMED, "not JSON");
	/* {"alg":"ES256","x":[[[[1]]]]}: five levels, where a jwk needs two */
	body = sign(k, "ES256", hdr_jwk(k, "ES256"), "{}");
	json_object_set_new(body, "protected",
			    json_string("eyJhbGciOiJFUzI1NiIsIngiOltbW1sxXV1dXX0"));
	expect_jws_refused(body, ERR_ACME_MALFORMED, "not JSON");
	for (const char *const *alg =
		     (const char *const[]){"none", "HS256", "RS512", "ES512", NULL};
	     *alg; alg++) {
		h = hdr_jwk(k, "ES256");
		json_object_set_new(h, "alg", json_string(*alg));
		expect_jws_refused(sign(k, "ES256", h, "{}"), ERR_ACME_BAD_SIGNATURE_ALGORITHM,
				   *alg);
	}
	h = hdr_jwk(k, "ES256");
	json_object_set_new(h, "kid", json_string("https://ca.test/acme/account/1"));
	expect_jws_refused(sign(k, "ES256", h, "{}"), ERR_ACME_MALFORMED, "exactly one");
	h = hdr_jwk(k, "ES256");
	json_object_del(h, "jwk");
	expect_jws_refused(sign(k, "ES256", h, "{}"), ERR_ACME_MALFORMED, "exactly one");
	h = hdr_jwk(k, "ES256");
	json_object_del(h, "nonce");
	expect_jws_refused(sign(k, "ES256", h, "{}"), ERR_ACME_BAD_NONCE, "nonce");
	h = hdr_jwk(k, "ES256");
	json_object_del(h, "url");
	expect_jws_refused(sign(k, "ES256", h, "{}"), ERR_ACME_MALFORMED, "url");
	h = hdr_jwk(k, "ES256");
	json_object_set_new(h, "crit", json_array());
	expect_jws_refused(sign(k, "ES256", h, "{}"), ERR_ACME_MALFORMED, "crit");
	EVP_PKEY_free(k);
}

/* An alg that does not fit the key, and a signature by another key. */
static void test_verify_refusals(void **state)
{
	(void)state;
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	json_t *body = sign(p256, "ES256", hdr_jwk(p256, "ES256"), "");
	struct acme_jws jws;
	struct acme_err e;

	assert_int_equal(acme_jws_parse(body, &jws, &e), 0);
	assert_int_equal(jws.payload_len, 0); /* POST-as-GET */
	assert_int_equal(acme_jws_verify(&jws, p256, &e), 0);
	assert_int_equal(acme_jws_verify(&jws, other, &e), -1);
	assert_int_equal(e.code, ERR_ACME_MALFORMED);
	assert_int_equal(acme_jws_verify(&jws, ed, &e), -1);
	assert_int_equal(e.code, ERR_ACME_BAD_SIGNATURE_ALGORITHM);
	jws.alg = ACME_ALG_ES384;
	assert_int_equal(acme_jws_verify(&jws, p256, &e), -1);
	assert_int_equal(e.code, ERR_ACME_BAD_SIGNATURE_ALGORITHM);
	jws.alg = ACME_ALG_ES256;
	jws.sig_len--;
	assert_int_equal(acme_jws_verify(&jws, p256, &e), -1);
	assert_int_equal(e.code, ERR_ACME_MALFORMED);
	jws.sig_len++;
	acme_jws_free(&jws);
	json_decref(body);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(other);
	EVP_PKEY_free(ed);
}

/* acme_jwk_verify's context and DER encoding against EVP_DigestVerify:
 * the same verdict on many signatures (r or s with a high bit or leading
 * zero bytes among them), on each with a byte changed, and through a
 * duplicated context as the key cache hands out. */
static void test_jwk_verify_agrees(void **state)
{
	(void)state;
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct acme_jwk k, other;
	struct acme_err e;
	json_t *j = jwk_of(p256), *jo = jwk_of(ed);
	int highbit = 0;

	assert_int_equal(acme_jwk_parse(j, &k, &e), 0);
	assert_non_null(k.verify);
	assert_int_equal(acme_jwk_parse(jo, &other, &e), 0);
	assert_null(other.verify);
	for (int i = 0; i < 200; i++) {
		char payload[32];
		struct acme_jws jws;
		snprintf(payload, sizeof payload, "{\"n\":\"%d\"}", i);
		json_t *body = sign(p256, "ES256", hdr_jwk(p256, "ES256"), payload);
		assert_int_equal(acme_jws_parse(body, &jws, &e), 0);
		highbit += (jws.sig[0] & 0x80) != 0 || (jws.sig[32] & 0x80) != 0;
		assert_int_equal(acme_jwk_verify(&jws, &k, &e), 0);
		jws.sig[i % 64] ^= (uint8_t)(1 + i % 255);
		assert_int_equal(acme_jws_verify(&jws, p256, &e), -1);
		assert_int_equal(acme_jwk_verify(&jws, &k, &e), -1);
		assert_int_equal(e.code, ERR_ACME_MALFORMED);
		jws.sig[i % 64] ^= (uint8_t)(1 + i % 255);
		struct acme_jwk copy = {.pkey = k.pkey, .verify = EVP_PKEY_CTX_dup(k.verify)};
		assert_non_null(copy.verify);
		assert_int_equal(acme_jwk_verify(&jws, &copy, &e), 0);
		EVP_PKEY_CTX_free(copy.verify);
		/* An alg that does not fit the key, on the fast path too. */
		jws.alg = ACME_ALG_ES384;
		assert_int_equal(acme_jwk_verify(&jws, &k, &e), -1);
		assert_int_equal(e.code, ERR_ACME_BAD_SIGNATURE_ALGORITHM);
		jws.alg = ACME_ALG_ES256;
		assert_int_equal(acme_jwk_verify(&jws, &other, &e), -1);
		assert_int_equal(e.code, ERR_ACME_BAD_SIGNATURE_ALGORITHM);
		jws.sig_len--;
		assert_int_equal(acme_jwk_verify(&jws, &k, &e), -1);
		assert_int_equal(e.code, ERR_ACME_MALFORMED);
		acme_jws_free(&jws);
		json_decref(body);
	}
	assert_true(highbit > 0);
	acme_jwk_free(&k);
	acme_jwk_free(&other);
	json_decref(j);
	json_decref(jo);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(ed);
}

static void test_contacts(void **state)
{
	(void)state;
	struct acme_err e;

	assert_int_equal(acme_contact_check("mailto:ops@example.com", &e), 0);
	assert_int_equal(acme_contact_check("tel:+4912345", &e), -1);
	assert_int_equal(e.code, ERR_ACME_UNSUPPORTED_CONTACT);
	const char *bad[] = {"mailto:",
			     "mailto:@example.com",
			     "mailto:a@",
			     "mailto:a@b@c.com",
			     "mailto:a@example.com,b@example.com",
			     "mailto:a@example.com?subject=x",
			     "mailto:a b@example.com",
			     "mailto:a@localhost",
			     "mailto:a@.com"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(acme_contact_check(bad[i], &e), -1);
		assert_int_equal(e.code, ERR_ACME_INVALID_CONTACT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_es256),
		cmocka_unit_test(test_es384),
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_eddsa),
		cmocka_unit_test(test_thumbprint_rfc7638),
		cmocka_unit_test(test_jwk_refusals),
		cmocka_unit_test(test_jws_refusals),
		cmocka_unit_test(test_verify_refusals),
		cmocka_unit_test(test_jwk_verify_agrees),
		cmocka_unit_test(test_contacts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
