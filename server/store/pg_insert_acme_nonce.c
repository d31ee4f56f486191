/* Records a batch of issued ACME nonces with their expiry on the database's
 * clock: one INSERT of a text[] so a process issues many nonces per round
 * trip (server/acme.c hands them out from a per-thread pool). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_nonces(struct store_conn *c, const char *const *nonces, size_t n,
				       int ttl_s)
{
	static struct store_stmt st = {
		"insert_acme_nonces",
		"INSERT INTO acme_nonces (nonce, expires_at)"
		" SELECT unnest($1::text[]), now() + make_interval(secs => $2::int)",
		0};
	char ttl[16];
	size_t len = 3;
	char *arr, *w;
	enum store_qs qs;

	/* Nonces are base64url: nothing in them needs quoting in an array literal. */
	for (size_t i = 0; i < n; i++)
		len += strlen(nonces[i]) + 1;
	if ((arr = malloc(len)) == NULL)
		return STORE_HARD;
	w = arr;
	*w++ = '{';
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(nonces[i]);
		if (i > 0)
			*w++ = ',';
		memcpy(w, nonces[i], k);
		w += k;
	}
	*w++ = '}';
	*w = '\0';
	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	{
		const char *p[] = {arr, ttl};
		qs = store_exec_void(c, &st, 2, p);
	}
	free(arr);
	return qs;
}
