/* Public-area parsing and Name computation (TPM 2.0 Part 1, 16 "Names":
 * Name = nameAlg || H_nameAlg(marshalled TPMT_PUBLIC)). */
#include "verifier/tpm_public.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/param_build.h>
#include <tss2/tss2_mu.h>

#include "verifier/tpm_alg.h"

int tpm_public_parse(const uint8_t *b, size_t n, struct tpm_public *out, struct verr *e)
{
	size_t off = 0;
	uint16_t size;
	const EVP_MD *md;
	unsigned int dlen = 0;

	memset(out, 0, sizeof(*out));
	if (b == NULL || n < 2) {
		verr_set(e, "public-truncated", "public area shorter than its size field");
		return -1;
	}
	size = (uint16_t)(b[0] << 8 | b[1]);
	if (size != n - 2) {
		verr_set(e, "public-size", "public area size field %u but %zu bytes follow", size,
			 n - 2);
		return -1;
	}
	if (Tss2_MU_TPMT_PUBLIC_Unmarshal(b + 2, size, &off, &out->pub) != 0) {
		verr_set(e, "public-malformed", "TPMT_PUBLIC does not unmarshal");
		return -1;
	}
	if (off != size) {
		verr_set(e, "public-trailing", "%zu bytes after TPMT_PUBLIC", (size_t)size - off);
		return -1;
	}
	md = tpm_alg_md(out->pub.nameAlg);
	if (md == NULL) {
		verr_set(e, "public-namealg", "unsupported nameAlg 0x%04x", out->pub.nameAlg);
		return -1;
	}
	out->name[0] = (uint8_t)(out->pub.nameAlg >> 8);
	out->name[1] = (uint8_t)out->pub.nameAlg;
	if (EVP_Digest(b + 2, size, out->name + 2, &dlen, md, NULL) != 1) {
		verr_set(e, "internal", "EVP_Digest failed");
		return -1;
	}
	out->name_len = 2 + dlen;
	return 0;
}

static EVP_PKEY *rsa_pkey(const TPMT_PUBLIC *p, struct verr *e)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *nb = NULL, *eb = NULL;
	uint32_t exp = p->parameters.rsaDetail.exponent;
	const TPM2B_PUBLIC_KEY_RSA *m = &p->unique.rsa;

	/* Part 2, 12.2.3.5: an exponent of zero means the default 2^16+1. */
	if (exp == 0)
		exp = 65537;
	if (m->size * 8u != p->parameters.rsaDetail.keyBits || m->size < 256) {
		verr_set(e, "public-rsa-size", "RSA modulus of %u bytes, keyBits %u (need >= 2048)",
			 m->size, p->parameters.rsaDetail.keyBits);
		goto out;
	}
	nb = BN_bin2bn(m->buffer, m->size, NULL);
	eb = BN_new();
	bld = OSSL_PARAM_BLD_new();
	if (nb == NULL || eb == NULL || bld == NULL || BN_set_word(eb, exp) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, nb) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, eb) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		verr_set(e, "public-rsa", "RSA public key not accepted by OpenSSL");
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(nb);
	BN_free(eb);
	return pk;
}

/* The uncompressed point 04 || X || Y of p's ECC key into out (room for
 * 1 + 2 * 66), each coordinate left-padded to the field: its length, or 0
 * when a coordinate is empty or longer than the curve's field. */
static size_t ecc_point(const TPMT_PUBLIC *p, uint8_t *out)
{
	size_t cb = tpm_alg_curve_bytes(p->parameters.eccDetail.curveID);
	const TPMS_ECC_POINT *q = &p->unique.ecc;

	/* Coordinates may arrive shorter than the field (leading zeros
	 * dropped) but never longer. */
	if (cb == 0 || q->x.size == 0 || q->y.size == 0 || q->x.size > cb || q->y.size > cb)
		return 0;
	memset(out, 0, 1 + 2 * cb);
	out[0] = 0x04;
	memcpy(out + 1 + cb - q->x.size, q->x.buffer, q->x.size);
	memcpy(out + 1 + 2 * cb - q->y.size, q->y.buffer, q->y.size);
	return 1 + 2 * cb;
}

static EVP_PKEY *ecc_pkey(const TPMT_PUBLIC *p, struct verr *e)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pk = NULL;
	uint8_t point[1 + 2 * 66];
	uint16_t curve = p->parameters.eccDetail.curveID;
	const char *group = tpm_alg_curve_name(curve);
	size_t cb = tpm_alg_curve_bytes(curve), plen;
	const TPMS_ECC_POINT *q = &p->unique.ecc;

	if (group == NULL) {
		verr_set(e, "public-curve", "unsupported curve 0x%04x", curve);
		goto out;
	}
	if ((plen = ecc_point(p, point)) == 0) {
		verr_set(e, "public-ecc-point",
			 "ECC point coordinates of %u/%u bytes for a %zu-byte curve", q->x.size,
			 q->y.size, cb);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, plen) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		verr_set(e, "public-ecc-point", "ECC point not accepted by OpenSSL");
		goto out;
	}
	/* fromdata decodes the point, which rejects points off the curve;
	 * the explicit check keeps that guarantee if the provider changes.
	 * The quick check skips n*Q = O, which adds nothing on the
	 * cofactor-1 NIST curves and costs a full scalar multiplication. */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (chk == NULL || EVP_PKEY_public_check_quick(chk) != 1) {
		verr_set(e, "public-ecc-point", "ECC point is not on the curve");
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pk;
}

EVP_PKEY *tpm_public_to_pkey(const TPMT_PUBLIC *p, struct verr *e)
{
	switch (p->type) {
	case TPM2_ALG_RSA: return rsa_pkey(p, e);
	case TPM2_ALG_ECC: return ecc_pkey(p, e);
	default:
		verr_set(e, "public-type", "key type 0x%04x is neither RSA nor ECC", p->type);
		return NULL;
	}
}

/* A DER length at b (room for 3 bytes: lengths below 64 KiB); the bytes
 * written. */
static size_t der_len(uint8_t *b, size_t n)
{
	if (n < 0x80) {
		b[0] = (uint8_t)n;
		return 1;
	}
	if (n < 0x100) {
		b[0] = 0x81;
		b[1] = (uint8_t)n;
		return 2;
	}
	b[0] = 0x82;
	b[1] = (uint8_t)(n >> 8);
	b[2] = (uint8_t)n;
	return 3;
}

/* A DER INTEGER of the unsigned big-endian v (n bytes) at b; the bytes
 * written (at most n + 5). */
static size_t der_uint(uint8_t *b, const uint8_t *v, size_t n)
{
	size_t off = 0, pad;

	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	pad = n > 0 && (v[0] & 0x80) ? 1 : 0;
	b[off++] = 0x02;
	off += der_len(b + off, n + pad);
	if (pad)
		b[off++] = 0;
	memcpy(b + off, v, n);
	return off + n;
}

int tpm_public_spki(const TPMT_PUBLIC *p, uint8_t **der, size_t *len)
{
	X509_PUBKEY *xp = X509_PUBKEY_new();
	ASN1_OBJECT *alg = NULL, *curve = NULL;
	unsigned char *enc = NULL, *out = NULL;
	int ptype = V_ASN1_NULL, enclen = 0, n, rc = -1;

	*der = NULL;
	if (xp == NULL)
		goto out;
	if (p->type == TPM2_ALG_ECC) {
		const char *name = tpm_alg_curve_name(p->parameters.eccDetail.curveID);
		int nid = name != NULL ? EC_curve_nist2nid(name) : NID_undef;
		uint8_t point[1 + 2 * 66];
		size_t plen = ecc_point(p, point);

		if (nid == NID_undef || plen == 0 || (enc = OPENSSL_memdup(point, plen)) == NULL)
			goto out;
		enclen = (int)plen;
		ptype = V_ASN1_OBJECT;
		alg = OBJ_nid2obj(NID_X9_62_id_ecPublicKey);
		curve = OBJ_nid2obj(nid);
	} else if (p->type == TPM2_ALG_RSA) {
		/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
		uint32_t exp =
			p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
		uint8_t e[4] = {(uint8_t)(exp >> 24), (uint8_t)(exp >> 16), (uint8_t)(exp >> 8),
				(uint8_t)exp};
		uint8_t body[TPM2_MAX_RSA_KEY_BYTES + 16];
		size_t bl, off = 0;

		if (p->unique.rsa.size == 0 || p->unique.rsa.size > TPM2_MAX_RSA_KEY_BYTES)
			goto out;
		bl = der_uint(body, p->unique.rsa.buffer, p->unique.rsa.size);
		bl += der_uint(body + bl, e, sizeof e);
		if ((enc = OPENSSL_malloc(bl + 4)) == NULL)
			goto out;
		enc[off++] = 0x30;
		off += der_len(enc + off, bl);
		memcpy(enc + off, body, bl);
		enclen = (int)(off + bl);
		alg = OBJ_nid2obj(NID_rsaEncryption);
	} else
		goto out;
	/* set0 takes enc; the objects are static (OBJ_nid2obj). */
	if (alg == NULL || !X509_PUBKEY_set0_param(xp, alg, ptype, curve, enc, enclen))
		goto out;
	enc = NULL;
	if ((n = i2d_X509_PUBKEY(xp, &out)) <= 0 || (*der = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(*der, out, (size_t)n);
	*len = (size_t)n;
	rc = 0;
out:
	OPENSSL_free(enc);
	OPENSSL_free(out);
	X509_PUBKEY_free(xp);
	return rc;
}

int tpm_public_qualified_name(const uint8_t *parent_qn, size_t plen, const struct tpm_public *child,
			      uint8_t *out, size_t *outlen)
{
	/* Part 1, 16.6: QN(B) = B.nameAlg || H_B.nameAlg(QN(A) || Name(B)). */
	const EVP_MD *md = tpm_alg_md(child->pub.nameAlg);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int dl = 0;
	int rc = -1;

	if (md == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, parent_qn, plen) != 1 ||
	    EVP_DigestUpdate(ctx, child->name, child->name_len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out + 2, &dl) != 1)
		goto out;
	out[0] = (uint8_t)(child->pub.nameAlg >> 8);
	out[1] = (uint8_t)child->pub.nameAlg;
	*outlen = 2 + dl;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}
