/* CA keys behind a door: the file backend of struct pki_signer, and the
 * assembly of signed certificates and CRLs from signed bytes. Only this
 * file holds an EVP_PKEY for a CA key. */
#include "pki/signer.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki/pki_int.h"

/* One backend: how to sign bytes, what the public key is, how to let go. */
struct pki_signer_ops {
	int (*sign)(void *key, const EVP_MD *md, const uint8_t *tbs, size_t len, uint8_t *sig,
		    size_t *siglen);
	int (*public_der)(const void *key, uint8_t **der, size_t *len);
	void (*free)(void *key);
};

struct pki_signer {
	const struct pki_signer_ops *ops;
	void *key; /* the backend's handle: an EVP_PKEY for files */
	enum pki_signer_alg alg;
};

static int file_sign(void *key, const EVP_MD *md, const uint8_t *tbs, size_t len, uint8_t *sig,
		     size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, md, NULL, key) == 1 &&
		 EVP_DigestSign(ctx, sig, siglen, tbs, len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int file_public_der(const void *key, uint8_t **der, size_t *len)
{
	unsigned char *out = NULL;
	int n = i2d_PUBKEY(key, &out);

	if (n <= 0)
		return -1;
	*der = out;
	*len = (size_t)n;
	return 0;
}

static void file_free(void *key)
{
	EVP_PKEY_free(key);
}

static const struct pki_signer_ops file_ops = {file_sign, file_public_der, file_free};

static void say(char *err, size_t errlen, const char *what, const char *path)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", what, path);
}

/* Takes key (stolen) into a new signer; NULL when its type is not one a CA
 * may have. */
static struct pki_signer *signer_wrap(EVP_PKEY *key)
{
	struct pki_signer *s = calloc(1, sizeof *s);
	char group[32] = "";
	size_t glen = 0;

	if (s == NULL)
		goto fail;
	if (EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048) {
		s->alg = PKI_SIGNER_RSA;
	} else if (EVP_PKEY_is_a(key, "EC") &&
		   EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &glen) == 1) {
		if (strcmp(group, "prime256v1") == 0)
			s->alg = PKI_SIGNER_P256;
		else if (strcmp(group, "secp384r1") == 0)
			s->alg = PKI_SIGNER_P384;
		else
			goto fail;
	} else {
		goto fail;
	}
	s->ops = &file_ops;
	s->key = key;
	return s;
fail:
	free(s);
	EVP_PKEY_free(key);
	return NULL;
}

struct pki_signer *pki_signer_open_file(const char *path, const char *passphrase, char *err,
					size_t errlen)
{
	struct stat st;
	EVP_PKEY *key = NULL;
	FILE *f = fopen(path, "re");
	struct pki_signer *s;

	if (f == NULL) {
		say(err, errlen, "cannot read the CA key", path);
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
		fclose(f);
		say(err, errlen, "the CA key may be read by others (want mode 0600)", path);
		return NULL;
	}
	/* With u set and no callback, OpenSSL takes u as the passphrase; an
	 * empty one makes an encrypted key fail instead of prompting. */
	key = PEM_read_PrivateKey(f, NULL, NULL, (void *)(passphrase ? passphrase : ""));
	fclose(f);
	if (key == NULL) {
		say(err, errlen, "cannot load the CA key (wrong or missing ORCHARD_CA_PASSPHRASE?)",
		    path);
		return NULL;
	}
	s = signer_wrap(key);
	if (s == NULL)
		say(err, errlen, "the CA key is not P-256, P-384 or RSA >= 2048", path);
	return s;
}

static EVP_PKEY *key_generate(const char *type)
{
	if (type == NULL || strcmp(type, "p256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(type, "p384") == 0)
		return EVP_EC_gen("P-384");
	if (strcmp(type, "rsa2048") == 0)
		return EVP_RSA_gen(2048);
	if (strcmp(type, "rsa3072") == 0)
		return EVP_RSA_gen(3072);
	if (strcmp(type, "rsa4096") == 0)
		return EVP_RSA_gen(4096);
	return NULL;
}

int pki__pem_write(const char *path, X509 *cert, EVP_PKEY *key, const char *passphrase)
{
	char tmp[4200];
	FILE *f = NULL;
	int fd, ok = 0;

	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	/* A fresh file: a leftover or a symlink at that name would otherwise
	 * give a key its mode, or send the key where the link points. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, key ? 0600 : 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		goto out;
	if (key == NULL)
		ok = PEM_write_X509(f, cert);
	else if (passphrase != NULL && *passphrase != '\0')
		ok = PEM_write_PKCS8PrivateKey(f, key, EVP_aes_256_cbc(), NULL, 0, NULL,
					       (void *)passphrase);
	else
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
out:
	if (f != NULL) {
		if (fclose(f) != 0)
			ok = 0;
	} else if (fd >= 0) {
		close(fd);
	}
	if (ok && rename(tmp, path) != 0)
		ok = 0;
	if (!ok)
		unlink(tmp);
	return ok ? 0 : -1;
}

struct pki_signer *pki_signer_create_file(const char *path, const char *key_type,
					  const char *passphrase, char *err, size_t errlen)
{
	EVP_PKEY *key = key_generate(key_type);

	if (key == NULL) {
		say(err, errlen, "unknown CA key type (p256, p384, rsa2048, rsa3072, rsa4096)",
		    key_type ? key_type : "");
		return NULL;
	}
	if (pki__pem_write(path, NULL, key, passphrase) != 0) {
		EVP_PKEY_free(key);
		say(err, errlen, "cannot write the CA key", path);
		return NULL;
	}
	return signer_wrap(key);
}

void pki_signer_free(struct pki_signer *s)
{
	if (s == NULL)
		return;
	s->ops->free(s->key);
	free(s);
}

enum pki_signer_alg pki_signer_alg(const struct pki_signer *s)
{
	return s->alg;
}

int pki_signer_public_der(const struct pki_signer *s, uint8_t **der, size_t *len)
{
	return s->ops->public_der(s->key, der, len);
}

static const EVP_MD *signer_md(const struct pki_signer *s)
{
	return s->alg == PKI_SIGNER_P384 ? EVP_sha384() : EVP_sha256();
}

int pki_sign_bytes(struct pki_signer *s, const uint8_t *tbs, size_t len, uint8_t *sig,
		   size_t *siglen)
{
	return s->ops->sign(s->key, signer_md(s), tbs, len, sig, siglen);
}

/* The AlgorithmIdentifier of the signer's signatures (RFC 5758, RFC 4055:
 * ECDSA has no parameters, RSA a NULL). */
static int algor_set(const struct pki_signer *s, X509_ALGOR *alg)
{
	switch (s->alg) {
	case PKI_SIGNER_P256:
		return X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL);
	case PKI_SIGNER_P384:
		return X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA384), V_ASN1_UNDEF, NULL);
	case PKI_SIGNER_RSA:
		return X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256WithRSAEncryption), V_ASN1_NULL,
				       NULL);
	}
	return 0;
}

/* Signs tbs into the BIT STRING sig, as ASN1_item_sign does. */
static int sign_into(struct pki_signer *s, const uint8_t *tbs, int tbslen, ASN1_BIT_STRING *sig)
{
	uint8_t buf[1024];
	size_t n = sizeof buf;

	if (tbslen <= 0 || pki_sign_bytes(s, tbs, (size_t)tbslen, buf, &n) != 0 ||
	    !ASN1_BIT_STRING_set(sig, buf, (int)n))
		return -1;
	sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	return 0;
}

int pki_sign_cert(struct pki_signer *s, X509 *cert)
{
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	unsigned char *tbs = NULL;
	int n, rc = -1;

	/* OpenSSL exposes these two fields const only; they are the
	 * certificate's own members, which X509_sign() fills the same way. */
	X509_get0_signature(&csig, &calg, cert);
	if (!algor_set(s, (X509_ALGOR *)X509_get0_tbs_sigalg(cert)) ||
	    !algor_set(s, (X509_ALGOR *)calg))
		goto out;
	n = i2d_re_X509_tbs(cert, &tbs);
	rc = sign_into(s, tbs, n, (ASN1_BIT_STRING *)csig);
out:
	OPENSSL_free(tbs);
	return rc;
}

/* A throwaway key of the signer's algorithm: OpenSSL has no setter for a
 * CRL's inner signature algorithm, so a CRL is first signed with it (which
 * fills both fields), then re-signed through the door. CRLs are rare and
 * cached, so the extra signature does not matter. */
static EVP_PKEY *scratch_key(enum pki_signer_alg alg)
{
	return alg == PKI_SIGNER_RSA	? EVP_RSA_gen(1024)
	       : alg == PKI_SIGNER_P384 ? EVP_EC_gen("P-384")
					: EVP_EC_gen("P-256");
}

int pki_sign_crl(struct pki_signer *s, X509_CRL *crl)
{
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	EVP_PKEY *scratch = scratch_key(s->alg);
	unsigned char *tbs = NULL;
	int n, rc = -1;

	if (scratch == NULL || X509_CRL_sign(crl, scratch, signer_md(s)) <= 0)
		goto out;
	X509_CRL_get0_signature(crl, &csig, &calg);
	n = i2d_re_X509_CRL_tbs(crl, &tbs);
	rc = sign_into(s, tbs, n, (ASN1_BIT_STRING *)csig);
out:
	OPENSSL_free(tbs);
	EVP_PKEY_free(scratch);
	return rc;
}

int pki_signer_matches(const struct pki_signer *s, X509 *cert)
{
	uint8_t *mine = NULL;
	unsigned char *theirs = NULL;
	size_t mlen = 0;
	int tlen = i2d_PUBKEY(X509_get0_pubkey(cert), &theirs);
	int same = tlen > 0 && pki_signer_public_der(s, &mine, &mlen) == 0 &&
		   mlen == (size_t)tlen && memcmp(mine, theirs, mlen) == 0;

	OPENSSL_free(mine);
	OPENSSL_free(theirs);
	return same;
}
