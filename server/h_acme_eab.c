/* POST /acme/eab (operator, acme:admin): a new external account binding
 * key (RFC 8555 section 7.3.4), returned once: its kid and a 256-bit HMAC
 * key, base64url. The key is stored to verify the binding and is spent by
 * the first account bound with it. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "server/acme.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"

struct eab_new {
	const char *kid, *key, *by;
};

static enum store_qs eab_insert_cb(struct store_conn *c, void *cls)
{
	struct eab_new *n = cls;

	return store_insert_acme_eab_key(c, n->kid, n->key, n->by);
}

int h_acme_eab_create(struct request *req)
{
	char kid[ACME_ID_MAX];
	uint8_t raw[32];
	char *key = NULL;
	struct eab_new n;
	enum store_qs qs;
	int ret;

	if (!acme_random_id(kid) || RAND_bytes(raw, sizeof raw) != 1 ||
	    (key = b64_encode(raw, sizeof raw, 1)) == NULL) {
		OPENSSL_cleanse(raw, sizeof raw);
		return reply_problem(req, ERR_INTERNAL, "no randomness");
	}
	OPENSSL_cleanse(raw, sizeof raw);
	n = (struct eab_new){kid, key, req->op.sub[0] ? req->op.sub : NULL};
	qs = store_run(req->srv->store, eab_insert_cb, &n);
	if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else
		ret = reply_json_private(req, 201,
					 json_pack("{s:s, s:s}", "kid", kid, "hmacKey", key));
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	return ret;
}
