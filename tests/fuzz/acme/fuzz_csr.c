/* libFuzzer driver: a finalize CSR (DER) through pki_csr_inspect() and the
 * account-key comparisons ACME finalize makes on it: no crash, no leak. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"

/* A throwaway P-256 key made for this driver's seeds (it guards nothing):
 * the seeds' P-256 CSRs carry it, so a CSR key that is the account key is
 * reached, and the driver signs with it (below). */
static const uint8_t fuzz_p256_priv[32] = {0x38, 0xf1, 0x4b, 0xa4, 0xf3, 0x58, 0xff, 0x25,
					   0xd4, 0x71, 0x1e, 0x53, 0xe0, 0x08, 0x20, 0x00,
					   0x25, 0x3d, 0x3c, 0x13, 0x9c, 0xff, 0xaf, 0x0b,
					   0x2f, 0xf8, 0x5b, 0xfa, 0xd9, 0xa3, 0x84, 0x50};
static const uint8_t fuzz_p256_pub[65] = {
	0x04, 0x84, 0x5f, 0x3a, 0x76, 0x48, 0x81, 0x21, 0x4c, 0x48, 0x09, 0x13, 0x97,
	0x03, 0x60, 0x5f, 0xd3, 0x31, 0x81, 0x8e, 0x73, 0xd2, 0xb7, 0xd9, 0xcc, 0xd0,
	0x8a, 0x8a, 0x9a, 0x0b, 0x01, 0x0b, 0xe8, 0x01, 0xee, 0x21, 0xb2, 0x1c, 0xc8,
	0x65, 0xab, 0x2a, 0xa1, 0xe5, 0xd3, 0x5b, 0x4a, 0xbb, 0xe4, 0x6e, 0x3a, 0x45,
	0x09, 0x28, 0x5c, 0x20, 0x46, 0xd1, 0x9e, 0x6a, 0x5d, 0xe5, 0x26, 0x75, 0x1e};
/* The Ed25519 seed's key: EVP_PKEY_eq()'s path in pki_csr_key_equals(). */
static const uint8_t fuzz_ed25519_pub[32] = {0xed, 0xfc, 0x4e, 0xd1, 0xeb, 0x96, 0xe3, 0xa9,
					     0x7b, 0x70, 0xc8, 0xe1, 0xe7, 0x0f, 0x7e, 0x7e,
					     0x8d, 0x72, 0x68, 0xfa, 0x17, 0x5b, 0xde, 0xe8,
					     0x92, 0x44, 0xf3, 0x5a, 0x69, 0x9c, 0xf1, 0x3a};

static EVP_PKEY *fuzz_p256, *fuzz_ed25519;

static EVP_PKEY *fuzz_make_p256(void)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *d = BN_bin2bn(fuzz_p256_priv, sizeof fuzz_p256_priv, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;

	if (bld == NULL || d == NULL || ctx == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, fuzz_p256_pub,
					      sizeof fuzz_p256_pub) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1)
		abort();
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(d);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_p256 = fuzz_make_p256();
	fuzz_ed25519 = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, fuzz_ed25519_pub,
						   sizeof fuzz_ed25519_pub);
	if (fuzz_ed25519 == NULL)
		abort();
	return 0;
}

/* A DER header (tag, length) at p; its size. */
static size_t fuzz_der_header(uint8_t *p, uint8_t tag, size_t len)
{
	size_t n = 0;

	p[n++] = tag;
	if (len < 0x80) {
		p[n++] = (uint8_t)len;
	} else if (len < 0x100) {
		p[n++] = 0x81;
		p[n++] = (uint8_t)len;
	} else {
		p[n++] = 0x82;
		p[n++] = (uint8_t)(len >> 8);
		p[n++] = (uint8_t)len;
	}
	return n;
}

/* data as a CertificationRequestInfo, signed (ecdsa-with-SHA256) with the
 * driver's key into a whole CSR: a mutated request still verifies when its
 * key is the driver's, so the code after the signature check (SANs, CN,
 * key comparisons) sees fuzzed input too. NULL when data is too long. */
static uint8_t *fuzz_sign_info(const uint8_t *data, size_t size, size_t *len)
{
	static const uint8_t alg[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
				      0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
	uint8_t sig[80], *der;
	size_t slen = sizeof sig, body, off = 0;
	EVP_MD_CTX *md;

	if (size > 0xff00 || (md = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fuzz_p256) != 1 ||
	    EVP_DigestSign(md, sig, &slen, data, size) != 1)
		abort();
	EVP_MD_CTX_free(md);
	/* slen + 1 < 0x80: the BIT STRING's header is two bytes. */
	body = size + sizeof alg + 2 + slen + 1;
	if ((der = malloc(body + 4)) == NULL)
		return NULL;
	off += fuzz_der_header(der, 0x30, body);
	memcpy(der + off, data, size);
	off += size;
	memcpy(der + off, alg, sizeof alg);
	off += sizeof alg;
	off += fuzz_der_header(der + off, 0x03, slen + 1);
	der[off++] = 0; /* no unused bits */
	memcpy(der + off, sig, slen);
	*len = off + slen;
	return der;
}

static void fuzz_inspect(const uint8_t *der, size_t len)
{
	struct pki_csr_info info;
	char why[256];
	size_t n = 0;

	if (pki_csr_inspect(der, len, &info, why, sizeof why) != PKI_OK)
		return;
	/* Every name must be a string within its allocation. */
	for (size_t i = 0; i < info.ndns; i++)
		n += strlen(info.dns[i]);
	for (size_t i = 0; i < info.nips; i++)
		n += strlen(info.ips[i]);
	n += strlen(info.key_type);
	if (info.spki_len > 0)
		n += info.spki[info.spki_len - 1];
	/* finalize's account_key_is(): the point first, the keys when the
	 * bytes cannot tell. */
	if (pki_csr_key_is_ec_point(&info, "prime256v1", fuzz_p256_pub, sizeof fuzz_p256_pub) < 0)
		n += (size_t)pki_csr_key_equals(&info, fuzz_p256);
	n += (size_t)pki_csr_key_is_ec_point(&info, "secp384r1", fuzz_p256_pub,
					     sizeof fuzz_p256_pub);
	n += (size_t)pki_csr_key_equals(&info, fuzz_p256);
	n += (size_t)pki_csr_key_equals(&info, fuzz_ed25519);
	pki_csr_info_free(&info);
	/* Keeps the reads above from being optimised away. */
	if (n == (size_t)-1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *signed_der;
	size_t signed_len;

	/* As the client sent it. */
	fuzz_inspect(data, size);
	/* As a request body the driver's key signed. */
	if ((signed_der = fuzz_sign_info(data, size, &signed_len)) != NULL) {
		fuzz_inspect(signed_der, signed_len);
		free(signed_der);
	}
	return 0;
}
