/* Issuing an operator token: sign it and record its ID (with its audit row
 * when a request minted it) in one transaction, shared by the
 * `orchardd token issue` command and POST /ops/tokens. */
#ifndef ORCHARD_TOKENS_H
#define ORCHARD_TOKENS_H
#include <stdbool.h>

#include "server/store/store.h"

struct auth;
struct store_audit_new;

/* Longest lifetime a token may be issued with. */
#define TOKENS_MAX_TTL (90L * 86400)
/* Longest subject, in bytes, as struct operator holds it. */
#define TOKENS_MAX_SUBJECT 127

/* What to mint. */
struct tokens_mint {
	const char *subject;
	unsigned scopes;
	long ttl;	    /* seconds; capped at the issuer's remaining life */
	const char *issuer; /* jti of the token minting this one; NULL: the CLI */
};

/* A minted token; token is owned, free it with tokens_issued_free(). */
struct tokens_issued {
	char *token;
	char jti[33];
	long expires_at;
};
void tokens_issued_free(struct tokens_issued *t);

/* True for 1..TOKENS_MAX_SUBJECT bytes of well-formed UTF-8 with no control
 * characters (C0, DEL, C1): a subject ends up in logs and audit rows. */
bool tokens_subject_valid(const char *subject);

/* Signs and records the token m describes, and, when audit is not NULL,
 * the audit row *audit with its target set to the new jti, all in one
 * transaction on s. Returns STORE_ONE with *out filled; STORE_NONE when the
 * issuer is revoked, expired or unknown (nothing issued); an error status
 * when signing or storing failed (logged). */
enum store_qs tokens_create(struct store *s, struct auth *a, const struct tokens_mint *m,
			    struct store_audit_new *audit, struct tokens_issued *out);

/* Revokes jti and every token minted from it, at any depth, in one
 * transaction on s. Returns how many were revoked: STORE_NONE when no such
 * unrevoked token exists. */
enum store_qs tokens_revoke(struct store *s, const char *jti);

#endif
