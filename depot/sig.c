/* Publisher keys: Ed25519 through OpenSSL 3 (EVP_DigestSign/Verify with no
 * digest, as Ed25519 hashes the message itself), key ids, PEM. */
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "depot/depot.h"

EVP_PKEY *depot_key_parse(const char *pem, size_t len, char id[DEPOT_KEY_ID_LEN + 1])
{
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	BIO *bio = NULL;
	int n;

	if (pem == NULL || len == 0 || len > 4096 || len > INT32_MAX)
		return NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		goto fail;
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
		goto fail;
	if ((n = i2d_PUBKEY(key, &der)) <= 0)
		goto fail;
	SHA256(der, (size_t)n, digest);
	hex_encode(digest, sizeof digest, id);
	OPENSSL_free(der);
	BIO_free(bio);
	return key;
fail:
	EVP_PKEY_free(key);
	BIO_free(bio);
	return NULL;
}

char *depot_key_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_PUBKEY(bio, key) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}

int depot_verify(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	int ok = 0;

	if (key == NULL || siglen != DEPOT_SIG_LEN || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
	     EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int depot_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[DEPOT_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	size_t siglen = DEPOT_SIG_LEN;
	int ok;

	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	     EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == DEPOT_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}
