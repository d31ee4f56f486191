/* Operator tokens. Verifying ES256 costs ~50 µs, a large share of a fast
 * request, so a verified token is cached (by its SHA-256) until it expires;
 * expiry and revocation are still checked on every request. */
#include "server/auth.h"

#include <jwt.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/b64.h"
#include "common/ct.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/log.h"
#include "server/store/revocations.h"

#define CACHE_SLOTS 4096
#define CACHE_SHARDS 16
#define TOKEN_MAX 4096
#define ISSUER "orchardd"

struct cache_entry {
	uint8_t hash[32];
	long exp;
	struct operator op;
};

struct auth {
	char *priv_pem; /* libjwt signs with the PEM */
	size_t priv_len;
	EVP_PKEY *pub; /* parsed once: verification is OpenSSL's, ~55 µs */
	struct revocations *revoked;
	EVP_MD *sha256; /* fetched once: an implicit fetch per request costs a lookup */
	atomic_uint_fast64_t refusals[ERR__COUNT];
	pthread_mutex_t shard[CACHE_SHARDS];
	struct cache_entry cache[CACHE_SLOTS];
};

/* Parses the P-256 signing key once; its public half verifies tokens. */
static EVP_PKEY *key_parse(const char *pem, size_t len)
{
	BIO *in = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;

	BIO_free(in);
	if (key != NULL && (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_bits(key) != 256)) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

struct auth *auth_new(const char *key_path, struct revocations *revoked)
{
	struct auth *a = calloc(1, sizeof *a);

	if (a == NULL)
		return NULL;
	a->revoked = revoked;
	for (int i = 0; i < CACHE_SHARDS; i++)
		pthread_mutex_init(&a->shard[i], NULL);
	a->priv_pem = file_read(key_path, 65536, &a->priv_len);
	if (a->priv_pem != NULL)
		a->pub = key_parse(a->priv_pem, a->priv_len);
	a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (a->pub == NULL || a->sha256 == NULL) {
		log_kv(LOG_ERROR, "cannot load the operator token key (P-256 PEM)", "path",
		       key_path, NULL);
		auth_free(a);
		return NULL;
	}
	return a;
}

void auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < CACHE_SHARDS; i++)
		pthread_mutex_destroy(&a->shard[i]);
	if (a->priv_pem != NULL)
		OPENSSL_cleanse(a->priv_pem, a->priv_len);
	free(a->priv_pem);
	EVP_PKEY_free(a->pub);
	EVP_MD_free(a->sha256);
	free(a);
}

/* The cheap checks first: three base64url parts of sane sizes, a header
 * naming ES256, a 64-byte r||s signature. Junk costs a scan, not an ECDSA
 * verification. Returns the signature's DER form, or NULL. */
static uint8_t *token_shape(const char *token, size_t len, size_t *sig_der_len,
			    const char **payload, size_t *payload_len)
{
	const char *dot1 = memchr(token, '.', len), *dot2;
	uint8_t *hdr = NULL, *sig = NULL, *der = NULL;
	size_t hdr_len, sig_len;
	json_t *h = NULL;

	if (dot1 == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))) == NULL)
		return NULL;
	if (dot1 - token > 200 || (size_t)(token + len - dot2 - 1) != 86)
		goto out;
	hdr = b64_decode(token, (size_t)(dot1 - token), 1, &hdr_len);
	sig = b64_decode(dot2 + 1, 86, 1, &sig_len);
	if (hdr == NULL || sig == NULL || sig_len != 64)
		goto out;
	h = json_loadb((const char *)hdr, hdr_len, JSON_REJECT_DUPLICATES, NULL);
	const char *alg = json_string_value(json_object_get(h, "alg"));
	if (alg == NULL || strcmp(alg, "ES256") != 0)
		goto out;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
	if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
	} else {
		int n = i2d_ECDSA_SIG(es, &der);
		*sig_der_len = n > 0 ? (size_t)n : 0;
		if (n <= 0)
			der = NULL;
	}
	ECDSA_SIG_free(es);
	*payload = dot1 + 1;
	*payload_len = (size_t)(dot2 - dot1 - 1);
out:
	json_decref(h);
	free(hdr);
	free(sig);
	return der;
}

/* Verifies signature and claims; fills *op and *exp. */
static bool token_verify(struct auth *a, const char *token, size_t len, struct operator* op,
			 long *exp, enum err_code *err)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *der, *claims_raw = NULL;
	size_t der_len = 0, payload_len = 0, claims_len;
	const char *payload = NULL, *iss, *jti, *sub, *scope;
	json_t *claims = NULL, *jexp;
	bool ok = false;

	*err = ERR_AUTH_INVALID;
	der = token_shape(token, len, &der_len, &payload, &payload_len);
	if (der == NULL)
		goto out;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestVerifyInit(md, NULL, a->sha256, NULL, a->pub) != 1 ||
	    EVP_DigestVerify(md, der, der_len, (const uint8_t *)token,
			     (size_t)(payload + payload_len - token)) != 1)
		goto out;
	claims_raw = b64_decode(payload, payload_len, 1, &claims_len);
	claims = claims_raw ? json_loadb((const char *)claims_raw, claims_len,
					 JSON_REJECT_DUPLICATES, NULL)
			    : NULL;
	iss = json_string_value(json_object_get(claims, "iss"));
	jti = json_string_value(json_object_get(claims, "jti"));
	sub = json_string_value(json_object_get(claims, "sub"));
	scope = json_string_value(json_object_get(claims, "scope"));
	jexp = json_object_get(claims, "exp");
	if (!json_is_integer(jexp) || iss == NULL || strcmp(iss, ISSUER) != 0 || jti == NULL ||
	    sub == NULL || scope == NULL || strlen(jti) >= sizeof op->jti ||
	    strlen(sub) >= sizeof op->sub)
		goto out;
	*exp = (long)json_integer_value(jexp);
	snprintf(op->jti, sizeof op->jti, "%s", jti);
	snprintf(op->sub, sizeof op->sub, "%s", sub);
	unsigned unknown; /* scopes of a newer orchardd grant nothing here */
	op->scopes = scope_parse_list(scope, &unknown);
	ok = true;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	json_decref(claims);
	free(claims_raw);
	OPENSSL_free(der);
	return ok;
}

static bool auth_check_token(struct auth *a, const char *header, unsigned need, struct operator* op,
			     enum err_code *err)
{
	uint8_t hash[32];
	unsigned hlen = 0;
	long exp = 0;
	const char *token;
	bool hit = false;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0) {
		*err = ERR_AUTH_MISSING;
		return false;
	}
	token = header + 7;
	size_t token_len = strlen(token);
	if (token_len > TOKEN_MAX) {
		*err = ERR_AUTH_INVALID;
		return false;
	}
	EVP_Digest(token, token_len, hash, &hlen, a->sha256, NULL);
	size_t slot = ((size_t)hash[0] << 8 | hash[1]) % CACHE_SLOTS;
	pthread_mutex_t *mu = &a->shard[slot % CACHE_SHARDS];
	struct cache_entry *e = &a->cache[slot];

	pthread_mutex_lock(mu);
	if (e->exp != 0 && ct_equal(e->hash, hash, sizeof hash)) {
		*op = e->op;
		exp = e->exp;
		hit = true;
	}
	pthread_mutex_unlock(mu);
	if (!hit) {
		if (!token_verify(a, token, token_len, op, &exp, err))
			return false;
		pthread_mutex_lock(mu);
		memcpy(e->hash, hash, sizeof hash);
		e->exp = exp;
		e->op = *op;
		pthread_mutex_unlock(mu);
	}
	if (exp <= (long)time(NULL)) {
		*err = ERR_AUTH_EXPIRED;
		return false;
	}
	if (a->revoked != NULL && revocations_contains(a->revoked, op->jti)) {
		*err = ERR_AUTH_REVOKED;
		return false;
	}
	if ((op->scopes & need) != need) {
		*err = ERR_FORBIDDEN_SCOPE;
		return false;
	}
	return true;
}

bool auth_check(struct auth *a, const char *header, unsigned need, struct operator* op,
		enum err_code *err)
{
	if (auth_check_token(a, header, need, op, err))
		return true;
	/* Counted, not logged one line each: a flood of junk tokens would
	 * otherwise write a line per request. */
	atomic_fetch_add_explicit(&a->refusals[*err], 1, memory_order_relaxed);
	return false;
}

uint64_t auth_refusals(struct auth *a, enum err_code err)
{
	return atomic_load_explicit(&a->refusals[err], memory_order_relaxed);
}

char *auth_issue(struct auth *a, const char *subject, unsigned scopes, long ttl_seconds,
		 long *expires_at, char jti_out[33])
{
	jwt_t *jwt = NULL;
	uint8_t rnd[16];
	char scope[256];
	char *token = NULL;
	long now = (long)time(NULL);

	if (RAND_bytes(rnd, sizeof rnd) != 1 || jwt_new(&jwt) != 0)
		goto out;
	hex_encode(rnd, sizeof rnd, jti_out);
	scope_format(scopes, scope, sizeof scope);
	*expires_at = now + ttl_seconds;
	if (jwt_add_grant(jwt, "iss", ISSUER) || jwt_add_grant(jwt, "sub", subject) ||
	    jwt_add_grant(jwt, "jti", jti_out) || jwt_add_grant(jwt, "scope", scope) ||
	    jwt_add_grant_int(jwt, "iat", now) || jwt_add_grant_int(jwt, "exp", *expires_at) ||
	    jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)a->priv_pem, (int)a->priv_len))
		goto out;
	token = jwt_encode_str(jwt);
out:
	jwt_free(jwt);
	return token;
}
