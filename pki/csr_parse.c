/* PKCS#10 requests parsed without OpenSSL 3.0's key decoders: d2i_X509_REQ()
 * decodes the SubjectPublicKeyInfo through OSSL_DECODER_CTX_new_for_pkey(),
 * which assembles a decoder chain per call (1.28 M of the 1.43 M
 * instructions of a P-256 CSR's parse, measured with callgrind). Here the
 * request is read with a template of its own whose key is a plain
 * AlgorithmIdentifier and BIT STRING, and the EVP_PKEY is built from the
 * fields (EVP_PKEY_fromdata) for named-curve EC and RSA keys; any other key
 * (Ed25519, RSA-PSS, explicit curves) takes d2i_PUBKEY(), the slow path that
 * reads everything. The CertificationRequestInfo keeps its received
 * encoding, so the self-signature is checked over the bytes sent, as
 * X509_REQ_verify() does. */
#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki_int.h"

/* The templates are OpenSSL's macros, which clang-format cannot lay out. */
/* clang-format off */
typedef struct {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *key;
} PKI_SPKI;

ASN1_SEQUENCE(PKI_SPKI) = {
	ASN1_SIMPLE(PKI_SPKI, alg, X509_ALGOR),
	ASN1_SIMPLE(PKI_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(PKI_SPKI)

/* RFC 2986 section 4.1: the attributes are [0] IMPLICIT and not optional. */
typedef struct {
	ASN1_ENCODING enc;
	ASN1_INTEGER *version;
	X509_NAME *subject;
	PKI_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) * attributes;
} PKI_CSR_INFO;

ASN1_SEQUENCE_enc(PKI_CSR_INFO, enc, 0) = {
	ASN1_SIMPLE(PKI_CSR_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(PKI_CSR_INFO, subject, X509_NAME),
	ASN1_SIMPLE(PKI_CSR_INFO, spki, PKI_SPKI),
	ASN1_IMP_SET_OF(PKI_CSR_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(PKI_CSR_INFO, PKI_CSR_INFO)

typedef struct PKI_CSR_ASN_st {
	PKI_CSR_INFO *info;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *sig;
} PKI_CSR_ASN;

ASN1_SEQUENCE(PKI_CSR_ASN) = {
	ASN1_SIMPLE(PKI_CSR_ASN, info, PKI_CSR_INFO),
	ASN1_SIMPLE(PKI_CSR_ASN, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(PKI_CSR_ASN, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(PKI_CSR_ASN)

typedef struct {
	ASN1_INTEGER *n;
	ASN1_INTEGER *e;
} PKI_RSA_PUB;

ASN1_SEQUENCE(PKI_RSA_PUB) = {
	ASN1_SIMPLE(PKI_RSA_PUB, n, ASN1_INTEGER),
	ASN1_SIMPLE(PKI_RSA_PUB, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(PKI_RSA_PUB)

static void csr_asn_free(PKI_CSR_ASN *a)
{
	ASN1_item_free((ASN1_VALUE *)a, ASN1_ITEM_rptr(PKI_CSR_ASN));
}
/* clang-format on */

/* A key from fields: type "EC" or "RSA" with bld's parameters. */
static EVP_PKEY *key_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
	EVP_PKEY *pk = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

/* An EC key from its group name and encoded point; NULL if the point is
 * not on the curve (fromdata decodes it and refuses that). */
static EVP_PKEY *ec_fromdata(const char *group, const unsigned char *pt, size_t len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pk = NULL;

	if (bld != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, len) == 1)
		pk = key_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pk;
}

/* One public key per curve, made once, whose copies take a CSR's point:
 * EVP_PKEY_fromdata() with a group name builds the curve anew every time
 * (EC_GROUP_new_by_curve_name and its Montgomery set-up, about 190 K of a
 * finalize's instructions), a copy only duplicates it. The template holds
 * a public key alone (a fresh key's point), so a copy holds no private
 * part. */
static const char *const ec_groups[] = {"prime256v1", "secp384r1", "secp521r1"};
static EVP_PKEY *ec_templates[3];
static pthread_once_t ec_templates_once = PTHREAD_ONCE_INIT;

static void ec_templates_make(void)
{
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *gen = EVP_EC_gen(ec_groups[i]);
		unsigned char pt[1 + 2 * 66];
		size_t len = 0;

		if (gen != NULL &&
		    EVP_PKEY_get_octet_string_param(gen, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
						    sizeof pt, &len) == 1)
			ec_templates[i] = ec_fromdata(ec_groups[i], pt, len);
		EVP_PKEY_free(gen);
	}
}

/* An uncompressed point (0x04 || x || y) into a copy of the curve's
 * template: EC_KEY_oct2key() checks that it is on the curve as fromdata
 * does, and takes its form from the first byte (uncompressed, as
 * fromdata's keys). NULL when that fails. */
static EVP_PKEY *ec_from_template(size_t i, const unsigned char *pt, size_t len)
{
	EVP_PKEY *pk;

	if (pthread_once(&ec_templates_once, ec_templates_make) != 0 || ec_templates[i] == NULL ||
	    (pk = EVP_PKEY_dup(ec_templates[i])) == NULL)
		return NULL;
	if (EVP_PKEY_set_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, len) != 1) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

/* An EC key on a named curve, or NULL (not one of ours, off the curve). */
static EVP_PKEY *ec_key(const ASN1_OBJECT *curve, const ASN1_BIT_STRING *bits)
{
	static const size_t coord[] = {32, 48, 66};
	int nid = OBJ_obj2nid(curve);
	size_t i = nid == NID_X9_62_prime256v1 ? 0
		   : nid == NID_secp384r1      ? 1
		   : nid == NID_secp521r1      ? 2
					       : 3;
	const unsigned char *pt = ASN1_STRING_get0_data(bits);
	size_t len = (size_t)ASN1_STRING_length(bits);

	if (i == 3)
		return NULL;
	/* Compressed and hybrid forms (rare) go the long way. */
	if (len == 1 + 2 * coord[i] && pt[0] == 0x04)
		return ec_from_template(i, pt, len);
	return ec_fromdata(ec_groups[i], pt, len);
}

/* An RSA key: the BIT STRING holds RSAPublicKey, read whole. */
static EVP_PKEY *rsa_key(const ASN1_BIT_STRING *bits)
{
	const unsigned char *p = ASN1_STRING_get0_data(bits);
	long len = ASN1_STRING_length(bits);
	PKI_RSA_PUB *r = (PKI_RSA_PUB *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(PKI_RSA_PUB));
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pk = NULL;

	if (r == NULL || p != ASN1_STRING_get0_data(bits) + len ||
	    (n = ASN1_INTEGER_to_BN(r->n, NULL)) == NULL ||
	    (e = ASN1_INTEGER_to_BN(r->e, NULL)) == NULL || BN_is_negative(n) ||
	    BN_is_negative(e) || (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto out;
	pk = key_fromdata("RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	ASN1_item_free((ASN1_VALUE *)r, ASN1_ITEM_rptr(PKI_RSA_PUB));
	return pk;
}

/* The request's key; NULL when OpenSSL cannot use it. */
static EVP_PKEY *spki_key(const PKI_SPKI *s)
{
	int nid = OBJ_obj2nid(s->alg->algorithm);
	const ASN1_TYPE *par = s->alg->parameter;
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pk = NULL;
	int n;

	/* Unused bits in a key's BIT STRING: nothing reads such a key. */
	if ((s->key->flags & ASN1_STRING_FLAG_BITS_LEFT) && (s->key->flags & 0x07))
		return NULL;
	if (nid == NID_X9_62_id_ecPublicKey && par != NULL && par->type == V_ASN1_OBJECT &&
	    (pk = ec_key(par->value.object, s->key)) != NULL)
		return pk;
	if (nid == NID_rsaEncryption && (par == NULL || par->type == V_ASN1_NULL) &&
	    (pk = rsa_key(s->key)) != NULL)
		return pk;
	/* Any other key, or one the fields above refused: OpenSSL's decoders
	 * say what it is. */
	if ((n = ASN1_item_i2d((const ASN1_VALUE *)s, &der, ASN1_ITEM_rptr(PKI_SPKI))) <= 0)
		return NULL;
	p = der;
	pk = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return pk;
}

void pki__csr_free(struct pki_csr *c)
{
	if (c == NULL)
		return;
	csr_asn_free(c->asn);
	EVP_PKEY_free(c->key);
	free(c);
}

struct pki_csr *pki__csr_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	struct pki_csr *c;

	if (der == NULL || len == 0 || len > 64 * 1024 || (c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->asn = (PKI_CSR_ASN *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(PKI_CSR_ASN));
	if (c->asn == NULL || p != der + len) {
		pki__csr_free(c);
		return NULL;
	}
	/* A key OpenSSL cannot use leaves c->key NULL: the signature then
	 * does not verify (as X509_REQ_get0_pubkey() NULL did). */
	c->key = spki_key(c->asn->info->spki);
	return c;
}

int pki__csr_verify(const struct pki_csr *c)
{
	return c->key != NULL && ASN1_item_verify(ASN1_ITEM_rptr(PKI_CSR_INFO), c->asn->sig_alg,
						  c->asn->sig, c->asn->info, c->key) == 1;
}

X509_NAME *pki__csr_subject(const struct pki_csr *c)
{
	return c->asn->info->subject;
}

/* As X509_REQ_get_extensions(): the extensionRequest attribute's
 * extensions (the caller frees), or NULL when there are none. */
STACK_OF(X509_EXTENSION) * pki__csr_extensions(const struct pki_csr *c)
{
	STACK_OF(X509_ATTRIBUTE) *attrs = c->asn->info->attributes;

	for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(attrs, i);
		int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a));
		ASN1_TYPE *t;
		const unsigned char *p;

		if (nid != NID_ext_req && nid != NID_ms_ext_req)
			continue;
		t = X509_ATTRIBUTE_get0_type(a, 0);
		if (t == NULL || t->type != V_ASN1_SEQUENCE)
			return NULL;
		p = t->value.sequence->data;
		return (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(
			NULL, &p, t->value.sequence->length, ASN1_ITEM_rptr(X509_EXTENSIONS));
	}
	return NULL;
}

int pki__csr_spki(const struct pki_csr *c, const X509_ALGOR **alg, const unsigned char **key,
		  int *keylen)
{
	const PKI_SPKI *s = c->asn->info->spki;

	*alg = s->alg;
	*key = ASN1_STRING_get0_data(s->key);
	*keylen = ASN1_STRING_length(s->key);
	return 1;
}

int pki__csr_spki_der(const struct pki_csr *c, unsigned char **der)
{
	return ASN1_item_i2d((const ASN1_VALUE *)c->asn->info->spki, der, ASN1_ITEM_rptr(PKI_SPKI));
}
