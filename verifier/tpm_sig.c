/* Signature checks over TPM-produced bytes (TPM 2.0 Part 2, 11.3.4
 * TPMT_SIGNATURE; Part 1, annex B/C for the RSA and ECC schemes). */
#include "verifier/tpm_sig.h"

#include <string.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "verifier/tpm_alg.h"

int tpm_sig_parse(const uint8_t *b, size_t n, TPMT_SIGNATURE *out, struct verr *e)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	if (b == NULL || Tss2_MU_TPMT_SIGNATURE_Unmarshal(b, n, &off, out) != 0) {
		verr_set(e, "sig-malformed", "TPMT_SIGNATURE does not unmarshal");
		return -1;
	}
	if (off != n) {
		verr_set(e, "sig-trailing", "%zu bytes after TPMT_SIGNATURE", n - off);
		return -1;
	}
	return 0;
}

uint16_t tpm_sig_hash(const TPMT_SIGNATURE *s)
{
	switch (s->sigAlg) {
	case TPM2_ALG_RSASSA: return s->signature.rsassa.hash;
	case TPM2_ALG_RSAPSS: return s->signature.rsapss.hash;
	case TPM2_ALG_ECDSA: return s->signature.ecdsa.hash;
	default: return 0;
	}
}

/* The scheme a key fixes in its public area, TPM2_ALG_NULL if it lets the
 * caller choose. */
static void key_scheme(const TPMT_PUBLIC *k, uint16_t *scheme, uint16_t *hash)
{
	*scheme = TPM2_ALG_NULL;
	*hash = TPM2_ALG_NULL;
	if (k->type == TPM2_ALG_RSA) {
		*scheme = k->parameters.rsaDetail.scheme.scheme;
		*hash = k->parameters.rsaDetail.scheme.details.anySig.hashAlg;
	} else if (k->type == TPM2_ALG_ECC) {
		*scheme = k->parameters.eccDetail.scheme.scheme;
		*hash = k->parameters.eccDetail.scheme.details.anySig.hashAlg;
	}
}

/* ECDSA signatures travel as (r, s); OpenSSL verifies DER. */
static int ecdsa_der(const TPMS_SIGNATURE_ECC *es, uint8_t *der, size_t cap, size_t *len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(es->signatureR.buffer, es->signatureR.size, NULL);
	BIGNUM *s = BN_bin2bn(es->signatureS.buffer, es->signatureS.size, NULL);
	uint8_t *p = der;
	int rc = -1, l;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by sig now */
	l = i2d_ECDSA_SIG(sig, NULL);
	if (l <= 0 || (size_t)l > cap || i2d_ECDSA_SIG(sig, &p) != l)
		goto out;
	*len = (size_t)l;
	rc = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

/* Sets ctx up to verify scheme/hash signatures. 0 or -1. */
static int setup_ctx(EVP_PKEY_CTX *ctx, uint16_t scheme, uint16_t hash)
{
	const EVP_MD *md = tpm_alg_md(hash);

	if (md == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		return -1;
	if (scheme == TPM2_ALG_RSASSA)
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 ? 0 : -1;
	/* TPMs sign PSS with the largest salt the modulus allows (Part 1,
	 * B.7) or with a digest-sized one; AUTO accepts either. */
	if (scheme == TPM2_ALG_RSAPSS)
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
				       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx,
									RSA_PSS_SALTLEN_AUTO) == 1
			       ? 0
			       : -1;
	return scheme == TPM2_ALG_ECDSA ? 0 : -1;
}

EVP_PKEY_CTX *tpm_sig_prepare(EVP_PKEY *pk, const TPMT_PUBLIC *key)
{
	uint16_t scheme, hash;
	EVP_PKEY_CTX *ctx;

	key_scheme(key, &scheme, &hash);
	if (scheme == TPM2_ALG_NULL || (ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL)
		return NULL;
	if (setup_ctx(ctx, scheme, hash) != 0) {
		EVP_PKEY_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

int tpm_sig_verify(EVP_PKEY *pk, EVP_PKEY_CTX *tmpl, const TPMT_PUBLIC *key,
		   const TPMT_SIGNATURE *s, const uint8_t *msg, size_t n, struct verr *e)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t dig[TPM_ALG_MAX_DIGEST], der[160];
	const uint8_t *sb;
	size_t sl = 0;
	unsigned int dl = 0;
	uint16_t hash = tpm_sig_hash(s), kscheme, khash;
	const EVP_MD *md;
	int rc = -1;

	key_scheme(key, &kscheme, &khash);
	if (hash != TPM2_ALG_SHA256 && hash != TPM2_ALG_SHA384) {
		verr_set(e, "sig-hash", "signature hash 0x%04x is not SHA-256 or SHA-384", hash);
		goto out;
	}
	if (kscheme != TPM2_ALG_NULL && (kscheme != s->sigAlg || khash != hash)) {
		verr_set(e, "sig-scheme",
			 "signature scheme 0x%04x/0x%04x differs from the key's 0x%04x/0x%04x",
			 s->sigAlg, hash, kscheme, khash);
		goto out;
	}
	switch (s->sigAlg) {
	case TPM2_ALG_RSASSA:
	case TPM2_ALG_RSAPSS:
		if (key->type != TPM2_ALG_RSA) {
			verr_set(e, "sig-scheme", "RSA signature for a non-RSA key");
			goto out;
		}
		/* rsassa and rsapss share one layout (TPMS_SIGNATURE_RSA). */
		sb = s->signature.rsassa.sig.buffer;
		sl = s->signature.rsassa.sig.size;
		break;
	case TPM2_ALG_ECDSA:
		if (key->type != TPM2_ALG_ECC) {
			verr_set(e, "sig-scheme", "ECDSA signature for a non-ECC key");
			goto out;
		}
		if (ecdsa_der(&s->signature.ecdsa, der, sizeof(der), &sl) != 0) {
			verr_set(e, "sig-malformed", "ECDSA (r,s) cannot be encoded");
			goto out;
		}
		sb = der;
		break;
	default:
		verr_set(e, "sig-scheme", "signature algorithm 0x%04x not supported", s->sigAlg);
		goto out;
	}
	md = tpm_alg_md(hash);
	if (EVP_Digest(msg, n, dig, &dl, md, NULL) != 1) {
		verr_set(e, "internal", "digest failed");
		goto out;
	}
	/* The template was set up for the key's fixed scheme, which the
	 * signature has just been checked to use. */
	if (tmpl != NULL && kscheme != TPM2_ALG_NULL)
		ctx = EVP_PKEY_CTX_dup(tmpl);
	else if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) != NULL &&
		 setup_ctx(ctx, s->sigAlg, hash) != 0) {
		EVP_PKEY_CTX_free(ctx);
		ctx = NULL;
	}
	if (ctx == NULL) {
		verr_set(e, "internal", "cannot set up signature verification");
		goto out;
	}
	if (EVP_PKEY_verify(ctx, sb, sl, dig, dl) != 1) {
		verr_set(e, "sig-invalid", "signature does not verify with the AK");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error(); /* a failed verify is an answer, not an error to keep */
	EVP_PKEY_CTX_free(ctx);
	return rc;
}
