/* The account-key cache (acme_keycache.h): direct-mapped by a hash of the
 * account id, each slot holding the stored JWK text it was parsed from and
 * a reference to the key; one mutex, held only to copy a slot in or out. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/acme_keycache.h"

#define KEYCACHE_SLOTS 4096

struct slot {
	char *id;
	char *text;
	struct acme_jwk key;
};

static struct slot slots[KEYCACHE_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % KEYCACHE_SLOTS);
}

/* *dst becomes a copy of src sharing its EVP_PKEY, with its own verification
 * context; 0, or -1 out of memory. */
static int jwk_copy(struct acme_jwk *dst, const struct acme_jwk *src)
{
	memset(dst, 0, sizeof *dst);
	if ((dst->canonical = strdup(src->canonical)) == NULL)
		return -1;
	if (!EVP_PKEY_up_ref(src->pkey)) {
		acme_jwk_free(dst);
		return -1;
	}
	dst->pkey = src->pkey;
	/* A context of its own (NULL: the copy verifies the long way). */
	if (src->verify != NULL)
		dst->verify = EVP_PKEY_CTX_dup(src->verify);
	memcpy(dst->thumbprint, src->thumbprint, sizeof dst->thumbprint);
	dst->group = src->group;
	memcpy(dst->point, src->point, sizeof dst->point);
	dst->point_len = src->point_len;
	return 0;
}

static void slot_free(struct slot *s)
{
	free(s->id);
	free(s->text);
	acme_jwk_free(&s->key);
	memset(s, 0, sizeof *s);
}

int acme_keycache_parse(const char *id, const char *jwk_text, struct acme_jwk *out,
			struct acme_err *e)
{
	struct slot *s = &slots[slot_of(id)], fresh = {0};
	int hit = 0;

	pthread_mutex_lock(&mu);
	if (s->id != NULL && strcmp(s->id, id) == 0 && strcmp(s->text, jwk_text) == 0)
		hit = jwk_copy(out, &s->key) == 0;
	pthread_mutex_unlock(&mu);
	if (hit)
		return 0;
	if (acme_jwk_parse_text(jwk_text, out, e) != 0)
		return -1;
	/* Remember it; a failed copy only means the next request parses again. */
	fresh.id = strdup(id);
	fresh.text = strdup(jwk_text);
	if (fresh.id == NULL || fresh.text == NULL || jwk_copy(&fresh.key, out) != 0) {
		slot_free(&fresh);
		return 0;
	}
	pthread_mutex_lock(&mu);
	struct slot old = *s;
	*s = fresh;
	pthread_mutex_unlock(&mu);
	slot_free(&old);
	return 0;
}

void acme_keycache_clear(void)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < KEYCACHE_SLOTS; i++)
		slot_free(&slots[i]);
	pthread_mutex_unlock(&mu);
}

int acme_keycache_get(const char *id, struct acme_jwk *out, char **jwk_text)
{
	struct slot *s = &slots[slot_of(id)];
	int rc = -1;

	*jwk_text = NULL;
	pthread_mutex_lock(&mu);
	if (s->id != NULL && strcmp(s->id, id) == 0 && (*jwk_text = strdup(s->text)) != NULL) {
		rc = jwk_copy(out, &s->key);
		if (rc != 0) {
			free(*jwk_text);
			*jwk_text = NULL;
		}
	}
	pthread_mutex_unlock(&mu);
	return rc;
}
