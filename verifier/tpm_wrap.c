/* Seed encryption and the outer wrapper (TPM 2.0 Part 1, 23.3.2 and 24.4;
 * annex B.10.3 for RSA-OAEP seeds), used by makecred and dps_authkey. */
#include "verifier/tpm_wrap.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "verifier/kdf.h"
#include "verifier/tpm_alg.h"

int tpm_wrap_ecc_seed(EVP_PKEY *pk, const TPMT_PUBLIC *p, uint16_t hash, const char *label,
		      uint8_t *seed, size_t sl, TPM2B_ENCRYPTED_SECRET *out)
{
	size_t cb = tpm_alg_curve_bytes(p->parameters.eccDetail.curveID);
	const char *group = tpm_alg_curve_name(p->parameters.eccDetail.curveID);
	EVP_PKEY *eph = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	TPMS_ECC_POINT q;
	uint8_t z[66], pt[1 + 2 * 66];
	size_t zl = sizeof(z), ptl = 0, off = 0;
	int rc = -1;

	memset(&q, 0, sizeof(q));
	if (group == NULL || (eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new(eph, NULL)) == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, pk) != 1 || EVP_PKEY_derive(ctx, z, &zl) != 1 || zl != cb)
		goto out;
	if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt),
					    &ptl) != 1 ||
	    ptl != 1 + 2 * cb || pt[0] != 0x04)
		goto out;
	q.x.size = q.y.size = (uint16_t)cb;
	memcpy(q.x.buffer, pt + 1, cb);
	memcpy(q.y.buffer, pt + 1 + cb, cb);
	if (kdf_e(hash, z, zl, label, q.x.buffer, q.x.size, p->unique.ecc.x.buffer,
		  p->unique.ecc.x.size, (uint32_t)(sl * 8), seed) != 0)
		goto out;
	if (Tss2_MU_TPMS_ECC_POINT_Marshal(&q, out->secret, sizeof(out->secret), &off) != 0)
		goto out;
	out->size = (uint16_t)off;
	rc = 0;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(eph);
	return rc;
}

int tpm_wrap_rsa_seed(EVP_PKEY *pk, uint16_t hash, const char *label, const uint8_t *seed, size_t n,
		      TPM2B_ENCRYPTED_SECRET *out)
{
	const EVP_MD *md = tpm_alg_md(hash);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
	void *l = OPENSSL_memdup(label, strlen(label) + 1);
	size_t outl = sizeof(out->secret);
	int rc = -1;

	if (md == NULL || ctx == NULL || l == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)(strlen(label) + 1)) != 1)
		goto out;
	l = NULL; /* ctx owns the label now */
	if (EVP_PKEY_encrypt(ctx, out->secret, &outl, seed, n) != 1)
		goto out;
	out->size = (uint16_t)outl;
	rc = 0;
out:
	OPENSSL_free(l);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int tpm_wrap_aes_cfb(const uint8_t *key, uint16_t bits, const uint8_t *in, size_t n, uint8_t *out)
{
	const EVP_CIPHER *c = bits == 128   ? EVP_aes_128_cfb128()
			      : bits == 256 ? EVP_aes_256_cfb128()
					    : NULL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t iv[16] = {0};
	int l1 = 0, l2 = 0, rc = -1;

	if (c != NULL && ctx != NULL && n <= 0x7fffffff &&
	    EVP_EncryptInit_ex(ctx, c, NULL, key, iv) == 1 &&
	    EVP_EncryptUpdate(ctx, out, &l1, in, (int)n) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + l1, &l2) == 1 && (size_t)(l1 + l2) == n)
		rc = 0;
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

size_t tpm_wrap_outer(uint16_t hash, const uint8_t *seed, size_t seedlen, uint16_t symbits,
		      const uint8_t *name, size_t namelen, const uint8_t *plain, size_t n,
		      uint8_t *out, size_t cap)
{
	const EVP_MD *md = tpm_alg_md(hash);
	size_t ds = tpm_alg_digest_size(hash), hl = 0, ret = 0;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];
	uint8_t symkey[32], hkey[TPM_ALG_MAX_DIGEST], hmac[TPM_ALG_MAX_DIGEST];
	uint8_t *enc;

	/* Layout: u16 size, HMAC, then the ciphertext right after it. */
	if (md == NULL || mctx == NULL || symbits > 256 || ds == 0 || cap < 2 + ds ||
	    n > cap - 2 - ds)
		goto out;
	enc = out + 2 + ds;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_end();
	if (kdf_a(hash, seed, seedlen, "STORAGE", name, namelen, NULL, 0, symbits, symkey) != 0 ||
	    tpm_wrap_aes_cfb(symkey, symbits, plain, n, enc) != 0 ||
	    kdf_a(hash, seed, seedlen, "INTEGRITY", NULL, 0, NULL, 0, (uint32_t)ds * 8, hkey) !=
		    0 ||
	    EVP_MAC_init(mctx, hkey, ds, params) != 1 || EVP_MAC_update(mctx, enc, n) != 1 ||
	    EVP_MAC_update(mctx, name, namelen) != 1 ||
	    EVP_MAC_final(mctx, hmac, &hl, sizeof(hmac)) != 1 || hl != ds)
		goto out;
	out[0] = (uint8_t)(ds >> 8);
	out[1] = (uint8_t)ds;
	memcpy(out + 2, hmac, ds);
	ret = 2 + ds + n;
out:
	OPENSSL_cleanse(symkey, sizeof(symkey));
	OPENSSL_cleanse(hkey, sizeof(hkey));
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return ret;
}
