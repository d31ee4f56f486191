/* dns-01 (RFC 8555 section 8.4): a TXT record at _acme-challenge.<name>
 * holding base64url(SHA-256(key authorization)). The only type that can
 * prove a wildcard. */
#include <stdio.h>
#include <string.h>

#include "acme/order.h"

struct want {
	const char *digest;
	int seen;
};

static bool txt_matches(const char *value, size_t len, void *cls)
{
	struct want *w = cls;

	w->seen++;
	return len == strlen(w->digest) && memcmp(value, w->digest, len) == 0;
}

static int dns01_validate(const struct acme_chall_target *t, struct acme_err *e)
{
	char name[ACME_IDENT_MAX + 32], digest[64];
	struct want w = {digest, 0};
	int rc;

	if (acme_key_authz_digest_b64(t->key_authz, digest, sizeof digest) != 0)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no digest");
	snprintf(name, sizeof name, "_acme-challenge.%s", t->ident->value);
	rc = acme_resolve_txt(t->resolver, name, txt_matches, &w, e);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return acme_fail(
			e, ERR_ACME_INCORRECT_RESPONSE,
			w.seen ? "no TXT record at %.100s holds the key authorization digest"
			       : "no TXT record at %.100s",
			name);
	return 0;
}

const struct acme_chall_type acme_chall_dns01 = {
	"dns-01",
	ACME_ID_DNS | ACME_ID_WILDCARD,
	dns01_validate,
	false,
};
