/* Appraisal JWTs with libjwt 1.10 (jwt_set_alg with a PEM key, grants,
 * jwt_encode_str); claims are built with jansson so values are escaped. */
#include "verifier/appraisal.h"

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void appraisal_init(struct appraisal *a)
{
	memset(a, 0, sizeof(*a));
	a->verdict = "fail";
}

void appraisal_pass(struct appraisal *a, const char *check)
{
	if (a->nchecks < APPRAISAL_MAX_CHECKS)
		a->checks[a->nchecks++] = check;
}

int appraisal_sign(const struct appraisal *a, const char *device_id, const uint8_t *key,
		   size_t keylen, int64_t now, int64_t ttl, char **jwt, struct verr *e)
{
	jwt_t *j = NULL;
	json_t *claims = NULL, *checks = NULL;
	char *claims_s = NULL, *out = NULL;
	int rc = -1;

	*jwt = NULL;
	checks = json_array();
	if (checks == NULL)
		goto fail;
	for (size_t i = 0; i < a->nchecks; i++)
		if (json_array_append_new(checks, json_string(a->checks[i])) != 0)
			goto fail;
	/* "o" steals checks: from here on claims owns it. */
	claims = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "iss", "orchard-verifier", "sub",
			   device_id, "verdict", a->verdict, "checks", checks, "evidence_time",
			   (json_int_t)a->evidence_time, "iat", (json_int_t)now, "exp",
			   (json_int_t)(now + ttl));
	checks = NULL;
	if (claims == NULL ||
	    (a->reason != NULL &&
	     json_object_set_new(claims, "reason", json_string(a->reason)) != 0) ||
	    (claims_s = json_dumps(claims, JSON_COMPACT)) == NULL)
		goto fail;
	if (jwt_new(&j) != 0 || jwt_add_grants_json(j, claims_s) != 0 ||
	    jwt_set_alg(j, JWT_ALG_ES256, (const unsigned char *)key, (int)keylen) != 0 ||
	    (out = jwt_encode_str(j)) == NULL) {
		verr_set(e, "jwt-sign",
			 "libjwt could not sign the appraisal (is the key a P-256 PEM key?)");
		goto out;
	}
	*jwt = out;
	rc = 0;
	goto out;
fail:
	verr_set(e, "internal", "out of memory");
out:
	json_decref(checks);
	json_decref(claims);
	free(claims_s);
	jwt_free(j);
	return rc;
}

int appraisal_sign_file(const struct appraisal *a, const char *device_id, const char *key_path,
			int64_t ttl, char **jwt, struct verr *e)
{
	FILE *f = fopen(key_path, "rb");
	uint8_t key[16384];
	size_t n;
	int rc;

	*jwt = NULL;
	if (f == NULL) {
		verr_set(e, "jwt-key", "cannot open %s", key_path);
		return -1;
	}
	n = fread(key, 1, sizeof(key) - 1, f);
	fclose(f);
	key[n] = '\0';
	rc = appraisal_sign(a, device_id, key, n, (int64_t)time(NULL), ttl, jwt, e);
	OPENSSL_cleanse(key, sizeof(key)); /* the signing key must not linger on the stack */
	return rc;
}

void appraisal_free(struct appraisal *a)
{
	if (a != NULL)
		appraisal_init(a);
}
