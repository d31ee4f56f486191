/* Operator tokens. Verifying ES256 costs ~50 µs, a large share of a fast
 * request, so a verified token is cached (by its SHA-256) until it expires;
 * expiry and revocation are still checked on every request. */
#include "server/auth.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
	char *priv_pem, *pub_pem;
	size_t priv_len, pub_len;
	struct revocations *revoked;
	EVP_MD *sha256; /* fetched once: an implicit fetch per request costs a lookup */
	pthread_mutex_t shard[CACHE_SHARDS];
	struct cache_entry cache[CACHE_SLOTS];
};

/* Derives the public key PEM that libjwt verifies with. */
static char *public_pem(const char *priv, size_t priv_len, size_t *len)
{
	BIO *in = BIO_new_mem_buf(priv, (int)priv_len), *out = BIO_new(BIO_s_mem());
	EVP_PKEY *key = NULL;
	char *pem = NULL, *data;
	long n;

	if (in == NULL || out == NULL)
		goto out;
	key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
	if (key == NULL || !EVP_PKEY_is_a(key, "EC") || !PEM_write_bio_PUBKEY(out, key))
		goto out;
	n = BIO_get_mem_data(out, &data);
	if (n > 0 && (pem = malloc((size_t)n + 1)) != NULL) {
		memcpy(pem, data, (size_t)n);
		pem[n] = '\0';
		*len = (size_t)n;
	}
out:
	EVP_PKEY_free(key);
	BIO_free(in);
	BIO_free(out);
	return pem;
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
		a->pub_pem = public_pem(a->priv_pem, a->priv_len, &a->pub_len);
	a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (a->pub_pem == NULL || a->sha256 == NULL) {
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
	free(a->pub_pem);
	EVP_MD_free(a->sha256);
	free(a);
}

/* Verifies signature and claims; fills *op and *exp. */
static bool token_verify(struct auth *a, const char *token, struct operator* op, long *exp,
			 enum err_code *err)
{
	jwt_t *jwt = NULL;
	const char *iss, *jti, *sub, *scope;
	bool ok = false;

	*err = ERR_AUTH_INVALID;
	if (jwt_decode(&jwt, token, (const unsigned char *)a->pub_pem, (int)a->pub_len) != 0 ||
	    jwt_get_alg(jwt) != JWT_ALG_ES256)
		goto out;
	iss = jwt_get_grant(jwt, "iss");
	jti = jwt_get_grant(jwt, "jti");
	sub = jwt_get_grant(jwt, "sub");
	scope = jwt_get_grant(jwt, "scope");
	errno = 0;
	*exp = jwt_get_grant_int(jwt, "exp");
	if (errno != 0 || iss == NULL || strcmp(iss, ISSUER) != 0 || jti == NULL || sub == NULL ||
	    scope == NULL || strlen(jti) >= sizeof op->jti || strlen(sub) >= sizeof op->sub)
		goto out;
	snprintf(op->jti, sizeof op->jti, "%s", jti);
	snprintf(op->sub, sizeof op->sub, "%s", sub);
	unsigned unknown; /* scopes of a newer orchardd grant nothing here */
	op->scopes = scope_parse_list(scope, &unknown);
	ok = true;
out:
	jwt_free(jwt);
	return ok;
}

bool auth_check(struct auth *a, const char *header, unsigned need, struct operator* op,
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
		if (!token_verify(a, token, op, &exp, err)) {
			log_bad_input("operator token rejected");
			return false;
		}
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
