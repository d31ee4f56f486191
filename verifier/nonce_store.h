/* Nonce freshness: a nonce is issued, consumed at most once, and expires.
 * An interface of function pointers so orchardd can back it with
 * PostgreSQL (shared by every process) while tools and tests use memory or
 * a directory. */
#ifndef ORCHARD_VERIFIER_NONCE_STORE_H
#define ORCHARD_VERIFIER_NONCE_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "verifier/verr.h"

#define NONCE_MAX 64

struct nonce_store;

struct nonce_store_ops {
	/* Records nonce as valid until expires (Unix seconds); now is the
	 * caller's clock, for purging expired entries. 0 or -1. */
	int (*put)(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t now,
		   int64_t expires);
	/* Atomically removes nonce if it is recorded. Returns 0 and its expiry
	 * when this call removed it; -1 when it was never issued or was already
	 * taken (by this or any other process). A PostgreSQL backend is one
	 * DELETE ... RETURNING expires. */
	int (*take)(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t *expires);
	/* Releases the store; s may be NULL. */
	void (*free)(struct nonce_store *s);
};

struct nonce_store {
	const struct nonce_store_ops *ops;
	void *ctx; /* the backend's state */
};

/* Fills nonce with len (8..64) random bytes and records it for ttl seconds
 * from now. Returns 0, or -1 with e set. */
int nonce_store_issue(struct nonce_store *s, uint8_t *nonce, size_t len, int64_t now, int64_t ttl,
		      struct verr *e);

/* Consumes nonce: succeeds once, only before it expires. On failure e says
 * "nonce-unknown" (never issued or already used) or "nonce-expired". */
int nonce_store_consume(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t now,
			struct verr *e);

/* Frees the store (NULL-safe). */
void nonce_store_free(struct nonce_store *s);

/* In-memory store holding at most max live nonces (expired ones are purged
 * to make room). One process only. NULL when out of memory. */
struct nonce_store *nonce_store_mem_new(size_t max);

/* Directory store for orchard-verify: one file per nonce in dir (created
 * with mode 0700 if missing); taking is unlink(2), which succeeds for
 * exactly one caller, even across processes. NULL on failure. */
struct nonce_store *nonce_store_dir_new(const char *dir);

#endif
