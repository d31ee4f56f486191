/* Flattened JWS JSON for ACME (RFC 7515 section 7.2.2, RFC 8555 section
 * 6.2): strict parsing of the three members and the protected header, and
 * signature verification with OpenSSL. */
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/jws.h"
#include "common/b64.h"
#include "common/jsonb.h"

#define JWS_HEADER_DEPTH 4 /* {"jwk": {...}} is two */

int acme_fail(struct acme_err *e, enum err_code code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof e->detail, fmt, ap);
	va_end(ap);
	return -1;
}

static enum acme_alg alg_parse(const char *s)
{
	if (strcmp(s, "ES256") == 0)
		return ACME_ALG_ES256;
	if (strcmp(s, "ES384") == 0)
		return ACME_ALG_ES384;
	if (strcmp(s, "RS256") == 0)
		return ACME_ALG_RS256;
	if (strcmp(s, "EdDSA") == 0)
		return ACME_ALG_EDDSA;
	return ACME_ALG_NONE;
}

/* A member that must be a string of base64url. */
static const char *b64_member(const json_t *body, const char *name, struct acme_err *e)
{
	const json_t *v = json_object_get(body, name);

	if (!json_is_string(v)) {
		acme_fail(e, ERR_ACME_MALFORMED, "JWS: \"%s\" must be a string", name);
		return NULL;
	}
	return json_string_value(v);
}

static int header_parse(struct acme_jws *out, bool inner, struct acme_err *e)
{
	const json_t *h = out->header, *alg = json_object_get(h, "alg");
	const json_t *nonce = json_object_get(h, "nonce"), *url = json_object_get(h, "url");
	const json_t *kid = json_object_get(h, "kid"), *jwk = json_object_get(h, "jwk");

	if (!json_is_object(h))
		return acme_fail(e, ERR_ACME_MALFORMED,
				 "JWS: the protected header is not a JSON object");
	if (!json_is_string(alg))
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: the protected header has no \"alg\"");
	if ((out->alg = alg_parse(json_string_value(alg))) == ACME_ALG_NONE)
		return acme_fail(e, ERR_ACME_BAD_SIGNATURE_ALGORITHM,
				 "JWS: alg %.16s is not one of " ACME_ALGS_LIST,
				 json_string_value(alg));
	if (json_object_get(h, "crit") != NULL || json_object_get(h, "b64") != NULL)
		return acme_fail(e, ERR_ACME_MALFORMED,
				 "JWS: \"crit\" and \"b64\" are not supported");
	if ((kid != NULL) == (jwk != NULL))
		return acme_fail(
			e, ERR_ACME_MALFORMED,
			"JWS: the protected header needs exactly one of \"jwk\" and \"kid\"");
	if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) == 0))
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: \"kid\" must be an account URL");
	if (jwk != NULL && !json_is_object(jwk))
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: \"jwk\" must be an object");
	if (!json_is_string(url) || json_string_length(url) == 0)
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: the protected header has no \"url\"");
	if (nonce == NULL && inner) {
		out->url = json_string_value(url);
		out->jwk = jwk;
		return jwk ? 0
			   : acme_fail(e, ERR_ACME_MALFORMED,
				       "the inner JWS must carry the new key as \"jwk\"");
	}
	if (nonce == NULL)
		return acme_fail(e, ERR_ACME_BAD_NONCE,
				 "JWS: the protected header has no \"nonce\"");
	if (!json_is_string(nonce) || json_string_length(nonce) == 0)
		return acme_fail(e, ERR_ACME_BAD_NONCE,
				 "JWS: \"nonce\" must be a non-empty string");
	out->url = json_string_value(url);
	out->nonce = json_string_value(nonce);
	out->kid = kid ? json_string_value(kid) : NULL;
	out->jwk = jwk;
	return 0;
}

static int jws_parse(const json_t *body, bool inner, struct acme_jws *out, struct acme_err *e)
{
	const char *prot, *payload, *sig, *key;
	const json_t *v;
	size_t plen, ylen, hlen;
	uint8_t *hdr;

	memset(out, 0, sizeof *out);
	if (!json_is_object(body))
		return acme_fail(e, ERR_ACME_MALFORMED,
				 "the body must be a flattened JWS JSON object");
	json_object_foreach ((json_t *)body, key, v) {
		if (strcmp(key, "protected") != 0 && strcmp(key, "payload") != 0 &&
		    strcmp(key, "signature") != 0)
			return acme_fail(
				e, ERR_ACME_MALFORMED,
				"JWS: member \"%.32s\" is not allowed (flattened JSON with a "
				"protected header only)",
				key);
	}
	if ((prot = b64_member(body, "protected", e)) == NULL ||
	    (payload = b64_member(body, "payload", e)) == NULL ||
	    (sig = b64_member(body, "signature", e)) == NULL)
		return -1;
	plen = strlen(prot);
	ylen = strlen(payload);
	if (plen == 0)
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: empty protected header");
	if ((hdr = b64_decode(prot, plen, 1, &hlen)) == NULL)
		return acme_fail(e, ERR_ACME_MALFORMED,
				 "JWS: \"protected\" is not strict base64url");
	out->header = jsonb_flat((const char *)hdr, hlen);
	/* a header nests a jwk at most: deeper is refused before jansson,
	 * whose own limit is 2048 levels */
	if (out->header == NULL &&
	    jsonb_depth((const char *)hdr, hlen, JWS_HEADER_DEPTH) <= JWS_HEADER_DEPTH)
		out->header = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, NULL);
	free(hdr);
	if (out->header == NULL) {
		acme_fail(e, ERR_ACME_MALFORMED, "JWS: the protected header is not JSON");
		goto bad;
	}
	if (header_parse(out, inner, e) != 0)
		goto bad;
	out->payload = b64_decode(payload, ylen, 1, &out->payload_len);
	if (out->payload == NULL ||
	    (out->sig = b64_decode(sig, strlen(sig), 1, &out->sig_len)) == NULL) {
		acme_fail(e, ERR_ACME_MALFORMED, "JWS: \"%s\" is not strict base64url",
			  out->payload == NULL ? "payload" : "signature");
		goto bad;
	}
	/* NUL-terminate the payload for JSON parsing. */
	uint8_t *p = realloc(out->payload, out->payload_len + 1);
	if (p == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
		goto bad;
	}
	out->payload = p;
	p[out->payload_len] = '\0';
	out->signing_input_len = plen + 1 + ylen;
	if ((out->signing_input = malloc(out->signing_input_len + 1)) == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
		goto bad;
	}
	memcpy(out->signing_input, prot, plen);
	out->signing_input[plen] = '.';
	memcpy(out->signing_input + plen + 1, payload, ylen + 1);
	return 0;
bad:
	acme_jws_free(out);
	return -1;
}

/* ES256/ES384 signatures are r || s (RFC 7518 section 3.4); OpenSSL wants
 * DER. Returns the DER length in *der (caller frees) or -1. */
static int ecdsa_to_der(const uint8_t *sig, size_t n, uint8_t **der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)n, NULL), *s = BN_bin2bn(sig + n, (int)n, NULL);
	int len = -1;

	*der = NULL;
	if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL; /* owned by es now */
		len = i2d_ECDSA_SIG(es, der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return len;
}

static int ec_group_bits(EVP_PKEY *key)
{
	return EVP_PKEY_get_bits(key);
}

int acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key, struct acme_err *e)
{
	const EVP_MD *md = NULL;
	const uint8_t *sig = jws->sig;
	size_t sig_len = jws->sig_len;
	uint8_t *der = NULL;
	EVP_MD_CTX *ctx;
	int id = EVP_PKEY_get_base_id(key), ok;

	switch (jws->alg) {
	case ACME_ALG_ES256:
	case ACME_ALG_ES384: {
		int want = jws->alg == ACME_ALG_ES256 ? 256 : 384;
		size_t n = (size_t)want / 8;
		if (id != EVP_PKEY_EC || ec_group_bits(key) != want)
			return acme_fail(e, ERR_ACME_BAD_SIGNATURE_ALGORITHM,
					 "JWS: %s needs a P-%d key",
					 jws->alg == ACME_ALG_ES256 ? "ES256" : "ES384", want);
		if (sig_len != 2 * n)
			return acme_fail(e, ERR_ACME_MALFORMED,
					 "JWS: the signature has the wrong length");
		int dlen = ecdsa_to_der(sig, n, &der);
		if (dlen < 0)
			return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
		sig = der;
		sig_len = (size_t)dlen;
		md = want == 256 ? EVP_sha256() : EVP_sha384();
		break;
	}
	case ACME_ALG_RS256:
		if (id != EVP_PKEY_RSA)
			return acme_fail(e, ERR_ACME_BAD_SIGNATURE_ALGORITHM,
					 "JWS: RS256 needs an RSA key");
		md = EVP_sha256();
		break;
	case ACME_ALG_EDDSA:
		if (id != EVP_PKEY_ED25519)
			return acme_fail(e, ERR_ACME_BAD_SIGNATURE_ALGORITHM,
					 "JWS: EdDSA needs an Ed25519 key");
		break;
	default: return acme_fail(e, ERR_ACME_BAD_SIGNATURE_ALGORITHM, "JWS: unsupported alg");
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		free(der);
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
	}
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
	     EVP_DigestVerify(ctx, sig, sig_len, (const uint8_t *)jws->signing_input,
			      jws->signing_input_len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	if (!ok)
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: the signature does not verify");
	return 0;
}

/* r || s (n bytes each) as a DER ECDSA-Sig-Value into der (at least
 * 2 * n + 8 bytes): each INTEGER minimal and positive. Returns its length. */
static size_t ecdsa_der(const uint8_t *sig, size_t n, uint8_t *der)
{
	size_t off = 2;

	for (int half = 0; half < 2; half++) {
		const uint8_t *v = sig + (size_t)half * n;
		size_t len = n;
		while (len > 1 && v[0] == 0)
			v++, len--;
		int pad = (v[0] & 0x80) != 0;
		der[off++] = 0x02;
		der[off++] = (uint8_t)(len + (size_t)pad);
		if (pad)
			der[off++] = 0;
		memcpy(der + off, v, len);
		off += len;
	}
	der[0] = 0x30; /* at most 2 * 51 bytes for P-384: short-form lengths */
	der[1] = (uint8_t)(off - 2);
	return off;
}

/* SHA-256 and SHA-384 fetched once: OpenSSL 3.0's SHA256() and SHA384()
 * fetch the algorithm by name on every call (EVP_Q_digest), which was 1.4%
 * of orchardd's CPU (perf, bench/acme.sh). */
static EVP_MD *jws_md[2];
static pthread_once_t jws_md_once = PTHREAD_ONCE_INIT;

static void jws_md_fetch(void)
{
	jws_md[0] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	jws_md[1] = EVP_MD_fetch(NULL, "SHA2-384", NULL);
}

/* The n-byte SHA-2 digest (n 32 or 48) of in; 0, or -1. */
static int jws_digest(const uint8_t *in, size_t len, size_t n, uint8_t *out)
{
	const EVP_MD *md = NULL;

	if (pthread_once(&jws_md_once, jws_md_fetch) == 0)
		md = jws_md[n == 48];
	if (md == NULL)
		md = n == 32 ? EVP_sha256() : EVP_sha384();
	return EVP_Digest(in, len, out, NULL, md, NULL) == 1 ? 0 : -1;
}

int acme_jwk_verify(const struct acme_jws *jws, const struct acme_jwk *key, struct acme_err *e)
{
	uint8_t md[SHA384_DIGEST_LENGTH], der[2 * 48 + 8];
	size_t n;

	if (key->verify == NULL || (jws->alg != ACME_ALG_ES256 && jws->alg != ACME_ALG_ES384))
		return acme_jws_verify(jws, key->pkey, e);
	n = jws->alg == ACME_ALG_ES256 ? 32 : 48;
	if (EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_EC ||
	    ec_group_bits(key->pkey) != (int)n * 8)
		return acme_fail(e, ERR_ACME_BAD_SIGNATURE_ALGORITHM, "JWS: %s needs a P-%zu key",
				 n == 32 ? "ES256" : "ES384", n * 8);
	if (jws->sig_len != 2 * n)
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: the signature has the wrong length");
	if (jws_digest((const uint8_t *)jws->signing_input, jws->signing_input_len, n, md) != 0)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "JWS: no digest");
	if (EVP_PKEY_verify(key->verify, der, ecdsa_der(jws->sig, n, der), md, n) != 1)
		return acme_fail(e, ERR_ACME_MALFORMED, "JWS: the signature does not verify");
	return 0;
}

void acme_jws_free(struct acme_jws *jws)
{
	if (jws == NULL)
		return;
	json_decref(jws->header);
	free(jws->payload);
	free(jws->sig);
	free(jws->signing_input);
	memset(jws, 0, sizeof *jws);
}

int acme_jws_parse(const json_t *body, struct acme_jws *out, struct acme_err *e)
{
	return jws_parse(body, false, out, e);
}

int acme_jws_parse_inner(const json_t *body, struct acme_jws *out, struct acme_err *e)
{
	return jws_parse(body, true, out, e);
}
