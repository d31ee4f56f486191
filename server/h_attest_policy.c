/* The quote gate's fleet policies (docs/acme.md, "The quote gate"):
 * PUT /attestation/policies/{kind}/{id} sets the verifier's PCR policy
 * document of an individual enrollment or an enrollment group; a device of
 * that enrollment then gets a device-attest-01 certificate only with a
 * fresh quote that satisfies it. GET reads it back. */
#include <stdlib.h>
#include <string.h>

#include "server/handlers.h"
#include "server/server.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/store/attest.h"
#include "verifier/pcr_policy.h"

struct policy_op {
	const char *kind, *id;
	char *text;
};

static enum store_qs put_cb(struct store_conn *c, void *cls)
{
	struct policy_op *o = cls;

	return store_upsert_attest_policy(c, o->kind, o->id, o->text);
}

static enum store_qs get_cb(struct store_conn *c, void *cls)
{
	struct policy_op *o = cls;

	return store_select_attest_policy(c, o->kind, o->id, &o->text);
}

/* The path's kind, or NULL after queueing a 404. */
static const char *path_kind(struct request *req, int *ret)
{
	const char *k = req->params[0];

	if (strcmp(k, "individual") == 0 || strcmp(k, "group") == 0)
		return k;
	*ret = reply_problem(req, ERR_NOT_FOUND,
			     "a policy is for an \"individual\" or a \"group\"");
	return NULL;
}

int h_attest_policy_put(struct request *req)
{
	struct policy_op o = {NULL, req->params[1], NULL};
	struct pcr_policy *pol;
	struct verr e = {{0}, {0}};
	enum store_qs qs;
	int ret;

	if ((o.kind = path_kind(req, &ret)) == NULL)
		return ret;
	if (!json_is_object(req->json) || (o.text = json_dumps(req->json, JSON_COMPACT)) == NULL)
		return reply_problem(req, ERR_ATTEST_MALFORMED, "a policy is a JSON object");
	/* Only what the verifier accepts is stored: a typo cannot disable a check. */
	if ((pol = pcr_policy_parse(o.text, strlen(o.text), &e)) == NULL) {
		free(o.text);
		return reply_problem(req, ERR_ATTEST_MALFORMED, "%s", e.msg);
	}
	pcr_policy_free(pol);
	qs = store_run_txn(req->srv->store, put_cb, &o);
	free(o.text);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	return reply_json_steal(req, 200, json_incref(req->json));
}

int h_attest_policy_get(struct request *req)
{
	struct policy_op o = {NULL, req->params[1], NULL};
	enum store_qs qs;
	json_t *j;
	int ret;

	if ((o.kind = path_kind(req, &ret)) == NULL)
		return ret;
	qs = store_run(req->srv->store, get_cb, &o);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_NOT_FOUND, "no policy for this enrollment");
	j = json_loads(o.text, 0, NULL);
	free(o.text);
	if (j == NULL)
		return reply_problem(req, ERR_INTERNAL, "the stored policy is unreadable");
	return reply_json_steal(req, 200, j);
}
