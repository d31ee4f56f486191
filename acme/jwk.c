/* JWK parsing (RFC 7517/7518, Ed25519 per RFC 8037) into OpenSSL keys and
 * RFC 7638 thumbprints, for the keys ACME accounts sign with. */
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

#include "acme/jws.h"
#include "common/b64.h"

/* A base64url member decoded, of exactly want bytes when want > 0. */
static uint8_t *member_bytes(const json_t *jwk, const char *name, size_t want, size_t *len,
			     struct acme_err *e)
{
	const json_t *v = json_object_get(jwk, name);
	uint8_t *out;

	if (!json_is_string(v)) {
		acme_fail(e, ERR_ACME_MALFORMED, "jwk: \"%s\" must be a base64url string", name);
		return NULL;
	}
	out = b64_decode(json_string_value(v), json_string_length(v), 1, len);
	if (out == NULL) {
		acme_fail(e, ERR_ACME_MALFORMED, "jwk: \"%s\" is not strict base64url", name);
		return NULL;
	}
	if ((want > 0 && *len != want) || *len == 0) {
		free(out);
		acme_fail(e, ERR_ACME_MALFORMED, "jwk: \"%s\" has the wrong length", name);
		return NULL;
	}
	return out;
}

static EVP_PKEY *ec_key(const char *group, const uint8_t *x, const uint8_t *y, size_t n)
{
	uint8_t point[1 + 2 * 48];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pkey = NULL;

	point[0] = 0x04;
	memcpy(point + 1, x, n);
	memcpy(point + 1 + n, y, n);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * n);
	params[2] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (pkey != NULL) { /* the point must be on the curve */
		EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		EVP_PKEY_CTX_free(chk);
	}
	return pkey;
}

static EVP_PKEY *rsa_key(const uint8_t *n, size_t nlen, const uint8_t *ex, size_t elen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(ex, (int)elen, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;

	if (bld != NULL && bn != NULL && be != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && ctx != NULL &&
	    EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static int finish(struct acme_jwk *out, json_t *canon, struct acme_err *e)
{
	uint8_t md[32];
	unsigned mdlen = 0;
	char *t;

	out->canonical = canon ? json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(canon);
	if (out->canonical == NULL ||
	    !EVP_Digest(out->canonical, strlen(out->canonical), md, &mdlen, EVP_sha256(), NULL) ||
	    (t = b64_encode(md, mdlen, 1)) == NULL) {
		acme_jwk_free(out);
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
	}
	memcpy(out->thumbprint, t, ACME_THUMBPRINT_LEN);
	out->thumbprint[ACME_THUMBPRINT_LEN] = '\0';
	free(t);
	return 0;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int parse_ec(const json_t *jwk, struct acme_jwk *out, struct acme_err *e)
{
	const char *crv = str(jwk, "crv"), *group;
	size_t n, xl, yl;
	uint8_t *x = NULL, *y = NULL;

	if (crv == NULL)
		return acme_fail(e, ERR_ACME_MALFORMED, "jwk: EC key without \"crv\"");
	if (strcmp(crv, "P-256") == 0)
		n = 32, group = "prime256v1";
	else if (strcmp(crv, "P-384") == 0)
		n = 48, group = "secp384r1";
	else
		return acme_fail(e, ERR_ACME_BAD_PUBLIC_KEY, "jwk: curve %.20s is not supported",
				 crv);
	if ((x = member_bytes(jwk, "x", n, &xl, e)) == NULL ||
	    (y = member_bytes(jwk, "y", n, &yl, e)) == NULL) {
		free(x);
		return -1;
	}
	out->pkey = ec_key(group, x, y, n);
	if (out->pkey != NULL) {
		out->group = group;
		out->point[0] = 0x04;
		memcpy(out->point + 1, x, n);
		memcpy(out->point + 1 + n, y, n);
		out->point_len = 1 + 2 * n;
	}
	free(x);
	free(y);
	if (out->pkey == NULL)
		return acme_fail(e, ERR_ACME_BAD_PUBLIC_KEY, "jwk: not a point on %s", crv);
	/* Without it (out of memory) acme_jwk_verify() takes the long way. */
	out->verify = EVP_PKEY_CTX_new_from_pkey(NULL, out->pkey, NULL);
	if (out->verify != NULL &&
	    (EVP_PKEY_verify_init(out->verify) != 1 ||
	     EVP_PKEY_CTX_set_signature_md(out->verify, n == 32 ? EVP_sha256() : EVP_sha384()) !=
		     1)) {
		EVP_PKEY_CTX_free(out->verify);
		out->verify = NULL;
	}
	return finish(out,
		      json_pack("{s:s, s:s, s:O, s:O}", "crv", crv, "kty", "EC", "x",
				json_object_get(jwk, "x"), "y", json_object_get(jwk, "y")),
		      e);
}

static int parse_rsa(const json_t *jwk, struct acme_jwk *out, struct acme_err *e)
{
	size_t nl, el;
	uint8_t *n = NULL, *ex = NULL;
	int bits;

	if ((n = member_bytes(jwk, "n", 0, &nl, e)) == NULL ||
	    (ex = member_bytes(jwk, "e", 0, &el, e)) == NULL) {
		free(n);
		return -1;
	}
	/* RFC 7518 section 6.3.1: the fewest octets, so one key has one
	 * thumbprint. */
	if (n[0] == 0 || ex[0] == 0 || el > 4 || !(ex[el - 1] & 1)) {
		free(n);
		free(ex);
		return acme_fail(e, ERR_ACME_MALFORMED, "jwk: RSA n and e must be minimal, e odd");
	}
	bits = (int)nl * 8;
	if (bits < 2048 || bits > 8192 || (el == 1 && ex[0] < 3)) {
		free(n);
		free(ex);
		return acme_fail(e, ERR_ACME_BAD_PUBLIC_KEY, "jwk: RSA keys are 2048 to 8192 bits");
	}
	out->pkey = rsa_key(n, nl, ex, el);
	free(n);
	free(ex);
	if (out->pkey == NULL)
		return acme_fail(e, ERR_ACME_BAD_PUBLIC_KEY, "jwk: not a usable RSA key");
	return finish(out,
		      json_pack("{s:O, s:s, s:O}", "e", json_object_get(jwk, "e"), "kty", "RSA",
				"n", json_object_get(jwk, "n")),
		      e);
}

static int parse_okp(const json_t *jwk, struct acme_jwk *out, struct acme_err *e)
{
	const char *crv = str(jwk, "crv");
	size_t xl;
	uint8_t *x;

	if (crv == NULL || strcmp(crv, "Ed25519") != 0)
		return acme_fail(e, ERR_ACME_BAD_PUBLIC_KEY, "jwk: OKP keys must be Ed25519");
	if ((x = member_bytes(jwk, "x", 32, &xl, e)) == NULL)
		return -1;
	out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
	free(x);
	if (out->pkey == NULL)
		return acme_fail(e, ERR_ACME_BAD_PUBLIC_KEY, "jwk: not an Ed25519 key");
	return finish(out,
		      json_pack("{s:s, s:s, s:O}", "crv", "Ed25519", "kty", "OKP", "x",
				json_object_get(jwk, "x")),
		      e);
}

int acme_jwk_parse(const json_t *jwk, struct acme_jwk *out, struct acme_err *e)
{
	static const char *const private[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
	const char *kty = str(jwk, "kty");

	memset(out, 0, sizeof *out);
	if (!json_is_object(jwk))
		return acme_fail(e, ERR_ACME_MALFORMED, "jwk must be an object");
	for (size_t i = 0; i < sizeof private / sizeof private[0]; i++)
		if (json_object_get(jwk, private[i]) != NULL)
			return acme_fail(e, ERR_ACME_MALFORMED, "jwk holds private key material");
	if (kty == NULL)
		return acme_fail(e, ERR_ACME_MALFORMED, "jwk: \"kty\" must be a string");
	if (strcmp(kty, "EC") == 0)
		return parse_ec(jwk, out, e);
	if (strcmp(kty, "RSA") == 0)
		return parse_rsa(jwk, out, e);
	if (strcmp(kty, "OKP") == 0)
		return parse_okp(jwk, out, e);
	return acme_fail(e, ERR_ACME_BAD_PUBLIC_KEY, "jwk: key type %.16s is not supported", kty);
}

int acme_jwk_parse_text(const char *text, struct acme_jwk *out, struct acme_err *e)
{
	json_t *j = json_loads(text, 0, NULL);
	int rc = acme_jwk_parse(j, out, e);

	json_decref(j);
	return rc;
}

void acme_jwk_free(struct acme_jwk *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_CTX_free(k->verify);
	EVP_PKEY_free(k->pkey);
	free(k->canonical);
	memset(k, 0, sizeof *k);
}
