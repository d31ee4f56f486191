/* libFuzzer driver: a request body as orchardd parses it, acme_jws_parse(),
 * and an embedded jwk parsed and verified against it: no crash, leak or UB. */
#include <stdint.h>
#include <string.h>

#include "acme/jws.h"
#include "common/jsonb.h"

/* server/request.c's JSON_MAX_DEPTH: the limit every request body meets
 * before acme_jws_parse() sees it. */
#define FUZZ_JSON_MAX_DEPTH 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = NULL;
	struct acme_jws jws;
	struct acme_jwk key;
	struct acme_err e;

	if (jsonb_parse((const char *)data, size, FUZZ_JSON_MAX_DEPTH, &body, NULL) != JSONB_OK)
		return 0;
	/* A refused JWS or JWK owns nothing: they are freed only on success,
	 * so a failure path that keeps an allocation shows as a leak. */
	if (acme_jws_parse(body, &jws, &e) == 0) {
		if (jws.jwk != NULL && acme_jwk_parse(jws.jwk, &key, &e) == 0) {
			/* Both paths: the prepared EC context and the generic
			 * one that RS256, EdDSA and a mismatched alg take. */
			(void)acme_jwk_verify(&jws, &key, &e);
			(void)acme_jws_verify(&jws, key.pkey, &e);
			acme_jwk_free(&key);
		}
		acme_jws_free(&jws);
	}
	json_decref(body);
	return 0;
}
