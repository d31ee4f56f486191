/* External account binding (RFC 8555 section 7.3.4): parse the inner HS256
 * JWS and check its MAC in constant time. */
#include "acme/eab.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

void acme_eab_free(struct acme_eab *eab)
{
	if (eab == NULL)
		return;
	free(eab->signing_input);
	free(eab->sig);
	memset(eab, 0, sizeof *eab);
}

static const char *member(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

int acme_eab_parse(const json_t *eab, const char *url, const char *account_thumbprint,
		   struct acme_eab *out, struct acme_err *e)
{
	const char *prot = member(eab, "protected"), *payload = member(eab, "payload"),
		   *sig = member(eab, "signature"), *alg, *kid, *hurl;
	json_t *hdr = NULL, *jwk = NULL;
	struct acme_jwk key = {0};
	uint8_t *raw = NULL;
	size_t len;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!json_is_object(eab) || json_object_size(eab) != 3 || prot == NULL || payload == NULL ||
	    sig == NULL)
		return acme_fail(e, ERR_ACME_MALFORMED,
				 "externalAccountBinding: a flattened JWS (protected, payload, "
				 "signature)");
	if ((raw = b64_decode(prot, strlen(prot), 1, &len)) == NULL ||
	    (hdr = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		acme_fail(e, ERR_ACME_MALFORMED, "externalAccountBinding: a bad protected header");
		goto out;
	}
	alg = member(hdr, "alg");
	kid = member(hdr, "kid");
	hurl = member(hdr, "url");
	if (alg == NULL || strcmp(alg, "HS256") != 0) {
		acme_fail(e, ERR_ACME_MALFORMED, "externalAccountBinding: alg must be HS256");
		goto out;
	}
	if (kid == NULL || kid[0] == '\0' || strlen(kid) >= sizeof out->kid) {
		acme_fail(e, ERR_ACME_MALFORMED, "externalAccountBinding: a kid is needed");
		goto out;
	}
	if (hurl == NULL || strcmp(hurl, url) != 0) {
		acme_fail(e, ERR_ACME_MALFORMED,
			  "externalAccountBinding: url must be the newAccount URL");
		goto out;
	}
	if (json_object_get(hdr, "nonce") != NULL) {
		acme_fail(e, ERR_ACME_MALFORMED, "externalAccountBinding: no nonce allowed");
		goto out;
	}
	free(raw);
	if ((raw = b64_decode(payload, strlen(payload), 1, &len)) == NULL ||
	    (jwk = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    acme_jwk_parse(jwk, &key, e) != 0 || strcmp(key.thumbprint, account_thumbprint) != 0) {
		acme_fail(e, ERR_ACME_MALFORMED,
			  "externalAccountBinding: the payload must be the account's key");
		goto out;
	}
	snprintf(out->kid, sizeof out->kid, "%s", kid);
	if ((out->sig = b64_decode(sig, strlen(sig), 1, &out->sig_len)) == NULL ||
	    asprintf(&out->signing_input, "%s.%s", prot, payload) < 0) {
		out->signing_input = NULL;
		acme_fail(e, ERR_ACME_MALFORMED, "externalAccountBinding: a bad signature");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		acme_eab_free(out);
	acme_jwk_free(&key);
	json_decref(jwk);
	json_decref(hdr);
	free(raw);
	return rc;
}

int acme_eab_verify(const struct acme_eab *eab, const uint8_t *key, size_t key_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)eab->signing_input,
		 strlen(eab->signing_input), mac, &mac_len) == NULL)
		return -1;
	if (eab->sig_len != mac_len)
		return -1;
	return CRYPTO_memcmp(mac, eab->sig, mac_len) == 0 ? 0 : -1;
}
