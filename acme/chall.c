/* The challenge types behind one table (RFC 8555 section 8): a new type is
 * a file acme/chall_<type>.c and a line here. Plus what several share:
 * the key authorization digest. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "acme/order.h"
#include "common/b64.h"

const struct acme_chall_type *const acme_chall_types[] = {
	&acme_chall_http01,
	&acme_chall_dns01,
	&acme_chall_tlsalpn01,
	&acme_chall_device_attest,
	NULL,
};

const struct acme_chall_type *acme_chall_find(const char *name)
{
	for (size_t i = 0; acme_chall_types[i] != NULL; i++)
		if (strcmp(acme_chall_types[i]->name, name) == 0)
			return acme_chall_types[i];
	return NULL;
}

bool acme_chall_fits(const struct acme_chall_type *type, const struct acme_ident *ident)
{
	if (!(type->idents & ident->type))
		return false;
	return !ident->wildcard || (type->idents & ACME_ID_WILDCARD);
}

int acme_key_authz_digest_b64(const char *key_authz, char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *s;
	int rc = -1;

	if (EVP_Digest(key_authz, strlen(key_authz), md, &mdlen, EVP_sha256(), NULL) != 1)
		return -1;
	s = b64_encode(md, mdlen, 1);
	if (s != NULL && strlen(s) < len) {
		memcpy(out, s, strlen(s) + 1);
		rc = 0;
	}
	free(s);
	return rc;
}
