/* The depot's compiled forms, operator and public side (docs/depot.md):
 * GET /depot/key, the depot key's public half that compiled forms'
 * statements verify with; GET /depot/packages/{publisher}/{name}/{version}/compiled,
 * the state of each target's compiled form (compiling, ready, failed with
 * its reason). Devices download them in h_depot_download.c. */
#include <stdlib.h>

#include "common/timefmt.h"
#include "depot/depot.h"
#include "server/depot.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/depot.h"
#include "server/store/depot_compiled.h"

int h_depot_key(struct request *req)
{
	const char *id, *pem = depot_public_key(req->srv, &id);

	return reply_json_steal(req, 200,
				json_pack("{s:s, s:s, s:s}", "publicKey", pem, "keyId", id,
					  "algorithm", "Ed25519"));
}

struct compiled_op {
	const char *publisher, *name, *version;
	struct store_depot_package pkg;
	struct store_depot_compiled *rows;
	size_t n;
};

static enum store_qs compiled_cb(struct store_conn *c, void *cls)
{
	struct compiled_op *o = cls;
	enum store_qs qs;

	store_depot_package_free(&o->pkg);
	for (size_t i = 0; i < o->n; i++)
		store_depot_compiled_free(&o->rows[i]);
	free(o->rows);
	o->rows = NULL;
	o->n = 0;
	qs = store_select_depot_package(c, o->publisher, o->name, o->version, &o->pkg);
	if (qs <= 0)
		return qs;
	return store_select_depot_compiled_list(c, o->pkg.module_sha256, &o->rows, &o->n) < 0
		       ? STORE_HARD
		       : STORE_ONE;
}

static json_t *compiled_json(const struct store_depot_compiled *r)
{
	char at[TIMEFMT_RFC3339_LEN], cwasm[7 + 65];

	timefmt_rfc3339(r->updated_at, at);
	if (r->cwasm_sha256 != NULL)
		snprintf(cwasm, sizeof cwasm, "sha256:%s", r->cwasm_sha256);
	return json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:s?, s:s?, s:s}", "target", r->target,
			 "state", r->state, "compiler", r->compiler, "cwasm",
			 r->cwasm_sha256 ? cwasm : NULL, "size",
			 r->cwasm_sha256 ? json_integer(r->size) : json_null(), "keyId", r->key_id,
			 "error", r->error, "updatedAt", at);
}

int h_depot_package_compiled(struct request *req)
{
	struct compiled_op o = {
		.publisher = req->params[0], .name = req->params[1], .version = req->params[2]};
	const char *targets[8];
	size_t nt = depot_targets(req->srv, targets, 8);
	json_t *list = json_array(), *tl = json_array(), *j = NULL;
	char module[7 + 65];
	enum store_qs qs;
	int ret;

	if (!depot_publisher_ok(o.publisher) || !depot_name_ok(o.name) ||
	    !depot_version_ok(o.version)) {
		json_decref(list);
		json_decref(tl);
		return reply_problem(req, ERR_DEPOT_BAD_NAME, NULL);
	}
	qs = store_run(req->srv->store, compiled_cb, &o);
	for (size_t i = 0; qs > 0 && list != NULL && i < o.n; i++)
		json_array_append_new(list, compiled_json(&o.rows[i]));
	for (size_t i = 0; tl != NULL && i < nt; i++)
		json_array_append_new(tl, json_string(targets[i]));
	if (qs > 0) {
		snprintf(module, sizeof module, "sha256:%s", o.pkg.module_sha256);
		j = json_pack("{s:s, s:O, s:O}", "module", module, "targets", tl, "compiled", list);
	}
	if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (qs == STORE_NONE)
		ret = reply_problem(req, ERR_DEPOT_PACKAGE_NOT_FOUND, "%s/pkg/%s/%s", o.publisher,
				    o.name, o.version);
	else if (j == NULL)
		ret = reply_problem(req, ERR_INTERNAL, "out of memory");
	else
		ret = reply_json_steal(req, 200, j);
	json_decref(list);
	json_decref(tl);
	store_depot_package_free(&o.pkg);
	for (size_t i = 0; i < o.n; i++)
		store_depot_compiled_free(&o.rows[i]);
	free(o.rows);
	return ret;
}
