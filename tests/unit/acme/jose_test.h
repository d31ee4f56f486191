/* Test helpers shared by the acme/ unit tests: a key's public JWK and a
 * flattened JWS signed with OpenSSL, as an ACME client makes them. */
#ifndef ORCHARD_TESTS_ACME_JOSE_TEST_H
#define ORCHARD_TESTS_ACME_JOSE_TEST_H
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

static char *b64u(const uint8_t *p, size_t n)
{
	return b64_encode(p, n, 1);
}

static char *bn_b64u(const BIGNUM *bn, size_t pad)
{
	size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
	uint8_t buf[1024];

	assert_true(BN_bn2binpad(bn, buf, (int)n) == (int)n);
	return b64u(buf, n);
}

/* The public JWK of key, as a client would send it. */
static json_t *jwk_of(EVP_PKEY *key)
{
	json_t *j = NULL;
	char *a = NULL, *b = NULL;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
		BIGNUM *x = NULL, *y = NULL;
		int bits = EVP_PKEY_get_bits(key);
		assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x));
		assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y));
		a = bn_b64u(x, (size_t)bits / 8);
		b = bn_b64u(y, (size_t)bits / 8);
		j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv",
			      bits == 256 ? "P-256" : "P-384", "x", a, "y", b);
		BN_free(x);
		BN_free(y);
	} else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
		BIGNUM *n = NULL, *e = NULL;
		assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n));
		assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e));
		a = bn_b64u(n, 0);
		b = bn_b64u(e, 0);
		j = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", a, "e", b);
		BN_free(n);
		BN_free(e);
	} else {
		uint8_t raw[32];
		size_t len = sizeof raw;
		assert_true(EVP_PKEY_get_raw_public_key(key, raw, &len));
		a = b64u(raw, len);
		j = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", a);
	}
	free(a);
	free(b);
	assert_non_null(j);
	return j;
}

/* Signs protected.payload with key as alg and returns the flattened JWS. */
static json_t *sign(EVP_PKEY *key, const char *alg, json_t *header, const char *payload)
{
	char *hj = json_dumps(header, JSON_COMPACT), *hp, *pp, *input, *sp;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = strcmp(alg, "ES384") == 0   ? EVP_sha384()
			   : strcmp(alg, "EdDSA") == 0 ? NULL
						       : EVP_sha256();
	uint8_t sig[1024], raw[96];
	size_t slen = sizeof sig;
	json_t *out;

	hp = b64u((const uint8_t *)hj, strlen(hj));
	pp = b64u((const uint8_t *)payload, strlen(payload));
	assert_true(asprintf(&input, "%s.%s", hp, pp) > 0);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &slen, (uint8_t *)input, strlen(input)), 1);
	if (alg[0] == 'E' && alg[1] == 'S') { /* DER to r || s */
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)slen);
		size_t n = strcmp(alg, "ES256") == 0 ? 32 : 48;
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)n);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + n, (int)n);
		ECDSA_SIG_free(es);
		sp = b64u(raw, 2 * n);
	} else {
		sp = b64u(sig, slen);
	}
	out = json_pack("{s:s, s:s, s:s}", "protected", hp, "payload", pp, "signature", sp);
	EVP_MD_CTX_free(ctx);
	free(hj);
	free(hp);
	free(pp);
	free(input);
	free(sp);
	json_decref(header);
	return out;
}

#endif
