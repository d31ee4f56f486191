/* The depot's packages, operator side (docs/depot.md): POST /depot/packages
 * publishes an .opkg file (parse → verify digest and the publisher's
 * signature → one transaction that writes the package and its module, or
 * nothing), GET lists or reads them, PATCH yanks or restores a version.
 * Published packages are immutable otherwise. */
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "depot/depot.h"
#include "server/depot.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"

struct publish_op {
	struct depot_opkg o;
	struct depot_manifest m;
	const char *by;
	enum err_code err; /* a refusal decided inside the transaction, or ERR_NONE-like 0 */
	bool refused;
	struct store_depot_package row;
};

static enum store_qs publish_cb(struct store_conn *c, void *cls)
{
	struct publish_op *p = cls;
	struct store_depot_publisher pub;
	struct store_depot_package in = {0};
	char key_id[DEPOT_KEY_ID_LEN + 1], sig_hex[2 * DEPOT_SIG_LEN + 1];
	EVP_PKEY *key = NULL;
	enum store_qs qs;

	p->refused = false;
	qs = store_select_depot_publisher(c, p->m.publisher, &pub);
	if (qs < 0)
		return qs;
	if (qs == STORE_NONE) {
		p->refused = true, p->err = ERR_DEPOT_UNKNOWN_PUBLISHER;
		return STORE_NONE;
	}
	key = depot_key_parse(pub.public_key, strlen(pub.public_key), key_id);
	if (key == NULL ||
	    depot_verify(key, p->o.manifest, p->o.manifest_len, p->o.sig, DEPOT_SIG_LEN) != 0) {
		EVP_PKEY_free(key);
		store_depot_publisher_free(&pub);
		p->refused = true, p->err = ERR_DEPOT_BAD_SIGNATURE;
		return STORE_NONE;
	}
	EVP_PKEY_free(key);
	store_depot_publisher_free(&pub);
	hex_encode(p->o.sig, DEPOT_SIG_LEN, sig_hex);
	in.publisher = p->m.publisher;
	in.name = p->m.name;
	in.version = p->m.version;
	in.manifest = (char *)p->o.manifest; /* canonical, checked by the reader */
	in.key_id = key_id;
	in.module_sha256 = p->m.module_hex;
	in.size = (long long)p->o.module_len;
	in.published_by = (char *)p->by;
	/* The package first: an existing version is refused (unique
	 * violation) before a byte of the module is written. */
	qs = store_insert_depot_package(c, &in, sig_hex);
	if (qs == STORE_CONFLICT) {
		p->refused = true, p->err = ERR_DEPOT_PACKAGE_EXISTS;
		return qs;
	}
	if (qs < 0)
		return qs;
	qs = store_insert_depot_module(c, p->m.module_hex, p->o.module, p->o.module_len);
	if (qs < 0)
		return qs;
	store_depot_package_free(&p->row);
	return store_select_depot_package(c, p->m.publisher, p->m.name, p->m.version, &p->row);
}

static enum err_code status_err(enum depot_status st)
{
	switch (st) {
	case DEPOT_TRUNCATED: return ERR_DEPOT_TRUNCATED;
	case DEPOT_TOO_LARGE: return ERR_DEPOT_TOO_LARGE;
	case DEPOT_BAD_MANIFEST: return ERR_DEPOT_BAD_MANIFEST;
	case DEPOT_DIGEST_MISMATCH: return ERR_DEPOT_DIGEST_MISMATCH;
	case DEPOT_OK:
	case DEPOT_BAD_FORMAT: break;
	}
	return ERR_DEPOT_BAD_PACKAGE;
}

static int reply_package(struct request *req, unsigned status, struct store_depot_package *row)
{
	json_t *j = depot_package_json(row);

	store_depot_package_free(row);
	if (j == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return reply_json_steal(req, status, j);
}

int h_depot_publish(struct request *req)
{
	struct publish_op p = {.by = req->op.jti[0] ? req->op.jti : NULL};
	const char *why = NULL;
	enum depot_status st;
	enum store_qs qs;
	int ret;

	st = depot_opkg_read(req->body.data, req->body.len, (size_t)req->srv->cfg.depot_max_module,
			     &p.o, &p.m, &why);
	if (st != DEPOT_OK)
		return reply_problem(req, status_err(st), "%s", why);
	qs = store_run_txn(req->srv->store, publish_cb, &p);
	if (p.refused) {
		store_depot_package_free(&p.row);
		if (p.err == ERR_DEPOT_UNKNOWN_PUBLISHER)
			ret = reply_problem(req, p.err, "no publisher %s: PUT /depot/publishers/%s",
					    p.m.publisher, p.m.publisher);
		else
			ret = reply_problem(req, p.err, NULL);
		depot_manifest_free(&p.m);
		return ret;
	}
	depot_manifest_free(&p.m);
	if (qs <= 0) {
		store_depot_package_free(&p.row);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	depot_after_publish(req->srv, &p.row);
	return reply_package(req, 201, &p.row);
}

struct package_op {
	const char *publisher, *name, *version;
	int yank; /* -1 read only */
	struct store_depot_package row;
};

static enum store_qs package_cb(struct store_conn *c, void *cls)
{
	struct package_op *o = cls;
	enum store_qs qs;

	if (o->yank >= 0) {
		qs = store_update_depot_package_yanked(c, o->publisher, o->name, o->version,
						       o->yank == 1);
		if (qs <= 0)
			return qs;
	}
	store_depot_package_free(&o->row);
	return store_select_depot_package(c, o->publisher, o->name, o->version, &o->row);
}

static int package_op_run(struct request *req, int yank)
{
	struct package_op o = {req->params[0], req->params[1], req->params[2], yank, {0}};
	enum store_qs qs;

	if (!depot_publisher_ok(o.publisher) || !depot_name_ok(o.name) ||
	    !depot_version_ok(o.version))
		return reply_problem(req, ERR_DEPOT_BAD_NAME, NULL);
	qs = yank >= 0 ? store_run_txn(req->srv->store, package_cb, &o)
		       : store_run(req->srv->store, package_cb, &o);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_DEPOT_PACKAGE_NOT_FOUND, "%s/pkg/%s/%s", o.publisher,
				     o.name, o.version);
	return reply_package(req, 200, &o.row);
}

int h_depot_package_get(struct request *req)
{
	return package_op_run(req, -1);
}

int h_depot_package_patch(struct request *req)
{
	json_t *y = json_object_get(req->json, "yanked");

	if (!json_is_object(req->json) || json_object_size(req->json) != 1 || !json_is_boolean(y))
		return reply_problem(req, ERR_INVALID_FIELD,
				     "the body is {\"yanked\": true|false}");
	return package_op_run(req, json_is_true(y) ? 1 : 0);
}

struct list_op {
	const char *publisher, *name;
	long limit;
	struct store_depot_package *rows;
	size_t n;
};

static void list_free(struct list_op *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_depot_package_free(&l->rows[i]);
	free(l->rows);
	l->rows = NULL;
	l->n = 0;
}

static enum store_qs list_cb(struct store_conn *c, void *cls)
{
	struct list_op *l = cls;

	list_free(l);
	return store_select_depot_packages(c, l->publisher, l->name, l->limit, &l->rows, &l->n);
}

int h_depot_package_list(struct request *req)
{
	struct list_op l = {request_arg(req, "publisher"), request_arg(req, "name"), 0, NULL, 0};
	long long limit;
	enum store_qs qs;
	json_t *arr, *j;

	if (request_arg_ll(req, "limit", 100, 1, 1000, &limit) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1-1000");
	if ((l.publisher != NULL && !depot_publisher_ok(l.publisher)) ||
	    (l.name != NULL && !depot_name_ok(l.name)))
		return reply_problem(req, ERR_DEPOT_BAD_NAME, NULL);
	l.limit = (long)limit;
	qs = store_run(req->srv->store, list_cb, &l);
	if (qs < 0) {
		list_free(&l);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	if ((arr = json_array()) == NULL) {
		list_free(&l);
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < l.n; i++)
		if ((j = depot_package_json(&l.rows[i])) == NULL || json_array_append_new(arr, j)) {
			list_free(&l);
			json_decref(arr);
			return reply_problem(req, ERR_INTERNAL, "out of memory");
		}
	list_free(&l);
	return reply_json_steal(req, 200, json_pack("{s:o}", "packages", arr));
}
