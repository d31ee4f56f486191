/* The nonce-store contract shared by every backend: the random draw, the
 * once-only take and the expiry check live here, not in each backend. */
#include "verifier/nonce_store.h"

#include <openssl/rand.h>

int nonce_store_issue(struct nonce_store *s, uint8_t *nonce, size_t len, int64_t now, int64_t ttl,
		      struct verr *e)
{
	if (len < 8 || len > NONCE_MAX || ttl < 0) {
		verr_set(e, "nonce-length", "nonce of %zu bytes (8-%d allowed)", len, NONCE_MAX);
		return -1;
	}
	if (RAND_bytes(nonce, (int)len) != 1) {
		verr_set(e, "internal", "RAND_bytes failed");
		return -1;
	}
	if (s->ops->put(s, nonce, len, now, now + ttl) != 0) {
		verr_set(e, "nonce-store", "cannot record the nonce");
		return -1;
	}
	return 0;
}

int nonce_store_consume(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t now,
			struct verr *e)
{
	int64_t expires = 0;

	if (nonce == NULL || len < 8 || len > NONCE_MAX) {
		verr_set(e, "nonce-length", "nonce of %zu bytes", len);
		return -1;
	}
	/* Take first, then judge expiry: an expired nonce is gone either way. */
	if (s->ops->take(s, nonce, len, &expires) != 0) {
		verr_set(e, "nonce-unknown", "nonce was never issued or was already used");
		return -1;
	}
	if (now >= expires) {
		verr_set(e, "nonce-expired", "nonce expired %lld s ago",
			 (long long)(now - expires));
		return -1;
	}
	return 0;
}

void nonce_store_free(struct nonce_store *s)
{
	if (s != NULL)
		s->ops->free(s);
}
