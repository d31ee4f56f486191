/* KDFa and KDFe (TPM 2.0 Part 1, 11.4.10.2 and 11.4.10.3): the counter and
 * the bit count are big-endian 32-bit, and the label's NUL is hashed. */
#include "verifier/kdf.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "verifier/tpm_alg.h"

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int kdf_a(uint16_t hash, const uint8_t *key, size_t keylen, const char *label, const uint8_t *u,
	  size_t ulen, const uint8_t *v, size_t vlen, uint32_t bits, uint8_t *out)
{
	const EVP_MD *md = tpm_alg_md(hash);
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	uint8_t cnt[4], b[4], blk[TPM_ALG_MAX_DIGEST];
	size_t bytes = (bits + 7) / 8, done = 0, bl = 0;
	uint32_t i = 0;
	int rc = -1;

	if (md == NULL || mac == NULL || bits == 0)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_end();
	be32(b, bits);
	while (done < bytes) {
		be32(cnt, ++i);
		EVP_MAC_CTX_free(ctx);
		if ((ctx = EVP_MAC_CTX_new(mac)) == NULL ||
		    EVP_MAC_init(ctx, key, keylen, params) != 1 ||
		    EVP_MAC_update(ctx, cnt, 4) != 1 ||
		    EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label) + 1) != 1 ||
		    (ulen && EVP_MAC_update(ctx, u, ulen) != 1) ||
		    (vlen && EVP_MAC_update(ctx, v, vlen) != 1) || EVP_MAC_update(ctx, b, 4) != 1 ||
		    EVP_MAC_final(ctx, blk, &bl, sizeof(blk)) != 1)
			goto out;
		memcpy(out + done, blk, bytes - done < bl ? bytes - done : bl);
		done += bytes - done < bl ? bytes - done : bl;
	}
	/* Part 1, 11.4.10.2: excess high bits of the first byte are cleared. */
	if (bits % 8)
		out[0] &= (uint8_t)((1u << (bits % 8)) - 1);
	rc = 0;
out:
	OPENSSL_cleanse(blk, sizeof(blk));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int kdf_e(uint16_t hash, const uint8_t *z, size_t zlen, const char *label, const uint8_t *u,
	  size_t ulen, const uint8_t *v, size_t vlen, uint32_t bits, uint8_t *out)
{
	const EVP_MD *md = tpm_alg_md(hash);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t cnt[4], blk[TPM_ALG_MAX_DIGEST];
	size_t bytes = (bits + 7) / 8, done = 0;
	unsigned int bl = 0;
	uint32_t i = 0;
	int rc = -1;

	if (md == NULL || ctx == NULL || bits == 0)
		goto out;
	while (done < bytes) {
		be32(cnt, ++i);
		if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, cnt, 4) != 1 ||
		    EVP_DigestUpdate(ctx, z, zlen) != 1 ||
		    EVP_DigestUpdate(ctx, label, strlen(label) + 1) != 1 ||
		    (ulen && EVP_DigestUpdate(ctx, u, ulen) != 1) ||
		    (vlen && EVP_DigestUpdate(ctx, v, vlen) != 1) ||
		    EVP_DigestFinal_ex(ctx, blk, &bl) != 1)
			goto out;
		memcpy(out + done, blk, bytes - done < bl ? bytes - done : bl);
		done += bytes - done < bl ? bytes - done : bl;
	}
	if (bits % 8)
		out[0] &= (uint8_t)((1u << (bits % 8)) - 1);
	rc = 0;
out:
	OPENSSL_cleanse(blk, sizeof(blk));
	EVP_MD_CTX_free(ctx);
	return rc;
}
