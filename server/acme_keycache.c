/* The account-key cache (acme_keycache.h): two-way set-associative by a
 * hash of the account id, each slot holding the stored JWK text it was
 * parsed from and a reference to the key; one mutex, held only to copy a
 * slot in or out. Direct-mapped, two active accounts whose ids shared a
 * slot (64 accounts in 4,096 slots: in about 40% of bench/acme.sh runs)
 * evicted each other on every request, and each of their requests went
 * the long way: an account read and a nonce DELETE of its own, two
 * statements more (0.33 and 0.37 per issuance in such a run). Two ways,
 * the one used less recently is replaced. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/acme_keycache.h"

#define KEYCACHE_SLOTS 4096
#define KEYCACHE_WAYS 2
#define KEYCACHE_SETS (KEYCACHE_SLOTS / KEYCACHE_WAYS)

struct slot {
	char *id;
	char *text;
	struct acme_jwk key;
};

static struct slot slots[KEYCACHE_SLOTS];   /* set k: slots[2k], slots[2k + 1] */
static unsigned char recent[KEYCACHE_SETS]; /* the way of set k used last */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static size_t set_of(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % KEYCACHE_SETS);
}

/* The slot of set k holding id (marked used last), or NULL. Under mu. */
static struct slot *way_find(size_t k, const char *id)
{
	for (int w = 0; w < KEYCACHE_WAYS; w++) {
		struct slot *s = &slots[k * KEYCACHE_WAYS + (size_t)w];
		if (s->id != NULL && strcmp(s->id, id) == 0) {
			recent[k] = (unsigned char)w;
			return s;
		}
	}
	return NULL;
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
	size_t k = set_of(id);
	struct slot *s, fresh = {0}, old;
	int hit = 0;

	pthread_mutex_lock(&mu);
	s = way_find(k, id);
	if (s != NULL && strcmp(s->text, jwk_text) == 0)
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
	/* The id's own slot (a changed key), else the way used less recently. */
	pthread_mutex_lock(&mu);
	if ((s = way_find(k, id)) == NULL) {
		int w = (recent[k] + 1) % KEYCACHE_WAYS;
		s = &slots[k * KEYCACHE_WAYS + (size_t)w];
		recent[k] = (unsigned char)w;
	}
	old = *s;
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
	struct slot *s;
	int rc = -1;

	*jwk_text = NULL;
	pthread_mutex_lock(&mu);
	if ((s = way_find(set_of(id), id)) != NULL && (*jwk_text = strdup(s->text)) != NULL) {
		rc = jwk_copy(out, &s->key);
		if (rc != 0) {
			free(*jwk_text);
			*jwk_text = NULL;
		}
	}
	pthread_mutex_unlock(&mu);
	return rc;
}
