/* PATCH /twins/{deviceId} (RFC 7396 merge of tags and properties.desired)
 * and PUT /twins/{deviceId} (replace both): parse and check the patch,
 * then in one transaction lock the twin (or make a fresh one), honour
 * If-Match, merge, check sizes, write with a new etag and version and
 * announce the change. A refused update changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/audit.h"
#include "server/configs.h"
#include "server/depot.h"
#include "depot/depot.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/store/operators.h"
#include "server/twin_batch.h"
#include "server/twins.h"

struct twin_update {
	struct request *req;
	const char *id;
	const char *if_match;
	const json_t *tags, *desired; /* patches (NULL: untouched on PATCH) */
	bool replace;
	char now[40];
	struct store_twin row; /* the twin as written */
	enum err_code err;     /* set when refused: nothing was written */
	struct twin_err te;
	struct store_audit_new audit; /* the request's audit row, as answered 200 */
	char *app_ref;		      /* desired.app.package as merged, when the patch names app */
	const char *app_why;	      /* with ERR_DEPOT_BAD_APP: what is wrong */
};

/* A fresh twin, in memory: empty tags and properties at version 1. */
static int twin_fresh(struct twin_update *u)
{
	json_t *d = twin_props_new(u->now, true), *r = twin_props_new(u->now, false);
	char etag[16];
	int ok = d && r && twin_etag_new(etag) == 0;

	if (ok) {
		u->row.device_id = strdup(u->id);
		u->row.etag = strdup(etag);
		u->row.status = strdup("enabled");
		u->row.tags = strdup("{}");
		u->row.desired = json_dumps(d, JSON_COMPACT);
		u->row.reported = json_dumps(r, JSON_COMPACT);
		u->row.version = 1;
		ok = u->row.device_id && u->row.etag && u->row.status && u->row.tags &&
		     u->row.desired && u->row.reported;
	}
	json_decref(d);
	json_decref(r);
	return ok ? 0 : -1;
}

static enum store_qs refuse(struct twin_update *u, enum err_code err)
{
	u->err = err;
	return STORE_NONE;
}

/* The app a device is to run (docs/depot.md, "The twin's part"): when the
 * patch writes a depot app (depot_app_named), the merged desired.app must
 * be {package, grants} with a package reference; its existence is checked
 * by twin_app_exists on the writing connection. */
static int twin_app_merged(struct twin_update *u, const json_t *desired)
{
	const char *ref, *why;
	json_t *patched = u->desired ? json_object_get(u->desired, "app") : NULL;

	free(u->app_ref);
	u->app_ref = NULL;
	if (!depot_app_named(patched, json_object_get(desired, "app")))
		return 0;
	if (depot_app_check(json_object_get(desired, "app"), &ref, &why) != 0) {
		u->err = ERR_DEPOT_BAD_APP;
		u->app_why = why;
		return -1;
	}
	if ((u->app_ref = strdup(ref)) == NULL) {
		u->err = ERR_INTERNAL;
		return -1;
	}
	return 0;
}

/* After twin_apply: the package desired.app names exists in the depot
 * and is not yanked, seen on c (in the writing transaction on the locking
 * path). 0 to write; else u->err is set, or a store error is returned. */
static enum store_qs twin_app_exists(struct store_conn *c, struct twin_update *u)
{
	enum err_code err;

	if (u->app_ref == NULL || depot_desired_check(c, u->app_ref, &err) == 0)
		return STORE_ONE;
	if (err == ERR_DB_UNAVAILABLE)
		return STORE_HARD;
	u->err = err == ERR_DEPOT_YANKED	      ? ERR_DEPOT_APP_YANKED
		 : err == ERR_DEPOT_PACKAGE_NOT_FOUND ? ERR_DEPOT_APP_UNKNOWN
						      : ERR_DEPOT_BAD_APP;
	return STORE_NONE;
}

/* Applies the patches to u->row's text in memory; sets u->err when a
 * limit refuses them. */
static int twin_apply(struct twin_update *u)
{
	json_t *tags = json_loads(u->row.tags, 0, NULL);
	json_t *desired = json_loads(u->row.desired, 0, NULL);
	char etag[16], *tt = NULL, *dt = NULL;
	enum twin_fault f = TWIN_NOMEM;

	if (tags == NULL || desired == NULL)
		goto out;
	if (u->replace)
		json_object_clear(tags);
	if (u->tags != NULL && (f = twin_merge_tags(tags, u->tags)) != TWIN_OK)
		goto out;
	if (u->desired != NULL || u->replace) {
		json_t *empty = json_object();

		f = twin_merge_props(desired, u->desired ? u->desired : empty, u->now, true,
				     u->replace);
		json_decref(empty);
		if (f != TWIN_OK)
			goto out;
	}
	if ((f = twin_check_size(tags, TWIN_TAGS_MAX, "/tags", &u->te)) != TWIN_OK ||
	    (f = twin_check_size(desired, TWIN_PROPS_MAX, "/properties/desired", &u->te)) !=
		    TWIN_OK)
		goto out;
	if (twin_app_merged(u, desired) != 0) {
		f = TWIN_OK; /* u->err says why */
		goto out_refused;
	}
	f = TWIN_NOMEM;
	tt = json_dumps(tags, JSON_COMPACT);
	dt = json_dumps(desired, JSON_COMPACT);
	if (tt == NULL || dt == NULL || twin_etag_new(etag) != 0)
		goto out;
	free(u->row.tags);
	free(u->row.desired);
	free(u->row.etag);
	u->row.tags = tt;
	u->row.desired = dt;
	tt = dt = NULL;
	u->row.etag = strdup(etag);
	u->row.version++;
	u->row.desired_version = twin_props_version(desired);
	f = u->row.etag ? TWIN_OK : TWIN_NOMEM;
out:
	free(tt);
	free(dt);
	json_decref(tags);
	json_decref(desired);
	if (f != TWIN_OK)
		u->err = twin_fault_err(f);
	return f == TWIN_OK ? 0 : -1;
out_refused:
	json_decref(tags);
	json_decref(desired);
	return -1;
}

/* The sections an update writes, as its history records them. */
static const char *twin_sections(const struct twin_update *u)
{
	bool t = u->tags != NULL || u->replace, d = u->desired != NULL || u->replace;

	return t && d ? "tags,desired" : t ? "tags" : d ? "desired" : "";
}

static enum store_qs twin_write(struct store_conn *c, void *cls)
{
	struct twin_update *u = cls;
	enum store_qs qs;

	store_twin_free(&u->row);
	u->err = 0;
	qs = store_lock_twin(c, u->id, &u->row);
	if (qs < 0)
		return qs;
	if (!twin_if_match(u->if_match, qs == STORE_ONE ? u->row.etag : NULL))
		return refuse(u, ERR_TWIN_ETAG_MISMATCH);
	if (qs == STORE_NONE) {
		if (twin_fresh(u) != 0)
			return refuse(u, ERR_INTERNAL);
		if (twin_apply(u) != 0)
			return STORE_NONE;
		if ((qs = twin_app_exists(c, u)) != STORE_ONE)
			return qs;
		qs = twin_store_change(c, u->req, &u->row, true, twin_sections(u), NULL);
		/* Someone created it meanwhile: start over, this time locking theirs. */
		if (qs == STORE_NONE)
			return STORE_SOFT;
	} else {
		if (twin_apply(u) != 0)
			return STORE_NONE;
		if ((qs = twin_app_exists(c, u)) != STORE_ONE)
			return qs;
		qs = twin_store_change(c, u->req, &u->row, false, twin_sections(u), NULL);
	}
	if (qs < 0)
		return qs;
	/* The request's audit row commits with the change: one transaction, not two. */
	return store_insert_audit(c, &u->audit, NULL);
}

/* The optimistic way of a desired-only PATCH of an existing twin, on one
 * pooled connection outside a transaction: read the twin, honour If-Match,
 * merge in C (twin_doc.c's rules and limits), then write it only if its etag
 * is still the one read, with its history and audit rows in that one
 * statement (store_update_twins_if, the batch's write with one change: it
 * leaves reported as it is, which the etag says is as read; twin_announce()
 * notifies after the commit): two round trips and one
 * commit, where the locking transaction takes five. A writer that lost the
 * race reads again; after TWIN_OPTIMISTIC_TRIES lost races (a hot twin) or
 * when there is no twin, *fallback is set and the locking transaction does
 * it, so every PATCH finishes and versions stay strictly sequential. It
 * runs when there is no twin batch (orchardd stopping: twins_batch.sh). */
#define TWIN_OPTIMISTIC_TRIES 4

struct twin_optimistic {
	struct twin_update *u;
	bool fallback;
	long long audit_id; /* the audit row written with the change */
};

static enum store_qs twin_optimistic_cb(struct store_conn *c, void *cls)
{
	struct twin_optimistic *o = cls;
	struct twin_update *u = o->u;
	struct store_twin_change h;
	enum store_qs qs = STORE_NONE;
	char *read_etag = NULL;

	for (int i = 0; i < TWIN_OPTIMISTIC_TRIES; i++) {
		store_twin_free(&u->row);
		free(read_etag);
		read_etag = NULL;
		u->err = 0;
		if ((qs = store_select_twin(c, u->id, &u->row)) != STORE_ONE)
			break; /* an error, or no twin: the transaction creates it */
		if (!twin_if_match(u->if_match, u->row.etag)) {
			qs = refuse(u, ERR_TWIN_ETAG_MISMATCH);
			goto out;
		}
		if ((read_etag = strdup(u->row.etag)) == NULL) {
			qs = STORE_HARD;
			goto out;
		}
		if (twin_apply(u) != 0) {
			qs = STORE_NONE;
			goto out;
		}
		if ((qs = twin_app_exists(c, u)) != STORE_ONE)
			goto out;
		if (twin_change_describe(u->req, &u->row, twin_sections(u), NULL, &h) != 0) {
			qs = STORE_HARD;
			goto out;
		}
		struct store_twin_write w = {
			.t = &u->row, .read_etag = read_etag, .h = &h, .a = &u->audit};
		qs = store_update_twins_if(c, &w, 1);
		o->audit_id = w.audit_id;
		free(h.patch);
		if (qs != STORE_NONE)
			goto out; /* written, or an error */
	}
	if (qs >= 0)
		o->fallback = true;
out:
	free(read_etag);
	return qs;
}

/* The optimistic write committed without a NOTIFY: announce it now,
 * batched with other writers' by the hub's notifier (events_notify). */
static void twin_announce(struct server *srv, const struct store_twin *t, long long audit_id)
{
	char p[TWIN_DEVICE_ID_MAX + 24];

	snprintf(p, sizeof p, "%s %lld", t->device_id, t->desired_version);
	events_notify(srv->events, EVENTS_TWIN, p);
	if (audit_id > 0) {
		snprintf(p, sizeof p, "%lld", audit_id);
		events_notify(srv->events, EVENTS_AUDIT, p);
	}
}

/* Fleet configurations follow tags: a tag change re-evaluates this twin's
 * (server/configs.c), and the reply shows what that wrote. */
static enum store_qs twin_update_cb(struct store_conn *c, void *cls)
{
	struct twin_update *u = cls;
	enum store_qs qs = twin_write(c, u);
	size_t applied = 0;

	if (qs > 0 && (u->tags != NULL || u->replace) &&
	    (qs = configs_reconcile(c, u->id, &applied)) >= 0 && applied > 0) {
		store_twin_free(&u->row);
		qs = store_select_twin(c, u->id, &u->row);
	}
	return qs;
}

/* Takes tags and properties.desired from the body; anything else is
 * refused (reported properties belong to the device). A PUT takes back a
 * whole twin as GET gave it, so an operator can GET, edit and PUT: there
 * the read-only members (version, status, reported, and desired's $version
 * and $metadata) are ignored, not refused. */
static int twin_body(struct request *req, struct twin_update *u)
{
	const char *k;
	json_t *v;

	if (!json_is_object(req->json))
		return reply_problem(req, ERR_TWIN_BAD_PATCH, "the body must be a JSON object");
	json_object_foreach (req->json, k, v) {
		if (strcmp(k, "tags") == 0) {
			if (!json_is_object(v))
				return reply_problem(req, ERR_TWIN_BAD_PATCH,
						     "/tags: must be an object");
			u->tags = v;
		} else if (strcmp(k, "properties") == 0) {
			const char *pk;
			json_t *pv;

			if (!json_is_object(v))
				return reply_problem(req, ERR_TWIN_BAD_PATCH,
						     "/properties: must be an object");
			json_object_foreach (v, pk, pv) {
				if (u->replace && strcmp(pk, "reported") == 0)
					continue;
				if (strcmp(pk, "reported") == 0)
					return reply_problem(
						req, ERR_TWIN_READ_ONLY,
						"/properties/reported: only the device writes it");
				if (strcmp(pk, "desired") != 0)
					return reply_problem(req, ERR_TWIN_BAD_PATCH,
							     "/properties: unknown member %.64s",
							     pk);
				if (!json_is_object(pv))
					return reply_problem(
						req, ERR_TWIN_BAD_PATCH,
						"/properties/desired: must be an object");
				if (u->replace) {
					json_object_del(pv, "$version");
					json_object_del(pv, "$metadata");
				}
				u->desired = pv;
			}
		} else if (strcmp(k, "deviceId") == 0) {
			if (!json_is_string(v) || strcmp(json_string_value(v), u->id) != 0)
				return reply_problem(req, ERR_TWIN_BAD_PATCH,
						     "/deviceId: differs from the path's");
		} else if (u->replace && (strcmp(k, "version") == 0 || strcmp(k, "status") == 0)) {
			continue;
		} else if (strcmp(k, "etag") != 0) {
			return reply_problem(req, ERR_TWIN_BAD_PATCH, "unknown member /%.64s", k);
		}
	}
	return -1;
}

/* A desired-only PATCH through the twin batch (server/twin_batch.c): the
 * request waits suspended, without a thread, while the batch's writer
 * reads the twin, merges it here (batch_merge: what twin_optimistic_cb
 * does for one twin), and writes it with the batch's other changes in one
 * statement and one commit. Lives in req->state across the suspension. */
struct twin_batched {
	struct twin_job job;
	struct twin_update u;
	char *params;		    /* the audit row's, owned */
	struct store_twin_change h; /* the history row of the merge written */
	char *read_etag;
	bool fallback_ran;
};

static void twin_batched_free(void *cls)
{
	struct twin_batched *tb = cls;

	store_twin_free(&tb->u.row);
	free(tb->u.app_ref);
	free(tb->params);
	free(tb->h.patch);
	free(tb->read_etag);
	free(tb);
}

static enum twin_step batch_merge(struct store_conn *c, void *cls, const struct store_twin *read,
				  struct store_twin_write *w)
{
	struct twin_batched *tb = cls;
	struct twin_update *u = &tb->u;

	store_twin_free(&u->row);
	free(tb->read_etag);
	free(tb->h.patch);
	tb->read_etag = NULL;
	tb->h.patch = NULL;
	u->err = 0;
	if (read == NULL)
		return TWIN_STEP_FALLBACK; /* the locking transaction creates it */
	if (!twin_if_match(u->if_match, read->etag)) {
		u->err = ERR_TWIN_ETAG_MISMATCH;
		return TWIN_STEP_DONE;
	}
	u->row = *read; /* borrowed for the copy below */
	u->row.device_id = strdup(read->device_id);
	u->row.etag = strdup(read->etag);
	u->row.status = strdup(read->status);
	u->row.tags = strdup(read->tags);
	u->row.desired = strdup(read->desired);
	u->row.reported = strdup(read->reported);
	tb->read_etag = strdup(read->etag);
	if (!u->row.device_id || !u->row.etag || !u->row.status || !u->row.tags ||
	    !u->row.desired || !u->row.reported || !tb->read_etag)
		return TWIN_STEP_ERROR;
	if (twin_apply(u) != 0)
		return TWIN_STEP_DONE; /* u->err says why */
	switch (twin_app_exists(c, u)) {
	case STORE_ONE: break;
	case STORE_NONE: return TWIN_STEP_DONE;
	default: return TWIN_STEP_ERROR;
	}
	if (twin_change_describe(u->req, &u->row, twin_sections(u), NULL, &tb->h) != 0)
		return TWIN_STEP_ERROR;
	*w = (struct store_twin_write){
		.t = &u->row, .read_etag = tb->read_etag, .h = &tb->h, .a = &u->audit};
	return TWIN_STEP_WRITE;
}

static void batch_committed(void *cls, long long audit_id)
{
	struct twin_batched *tb = cls;

	twin_announce(tb->u.req->srv, &tb->u.row, audit_id);
}

static enum store_qs batch_fallback(void *cls)
{
	struct twin_batched *tb = cls;

	tb->u.err = 0;
	return store_run_txn(tb->u.req->srv->store, twin_update_cb, &tb->u);
}

static const struct twin_change_ops batch_ops = {batch_merge, batch_committed, batch_fallback};

/* The answer once the update ran (qs) or was refused (u->err). */
static int twin_update_reply(struct request *req, struct twin_update *u, enum store_qs qs)
{
	int ret;

	req->audited = qs >= 0 && u->err == 0; /* else the pipeline audits the refusal */
	if (qs >= 0 && (u->err == ERR_DEPOT_BAD_APP || u->err == ERR_DEPOT_APP_UNKNOWN ||
			u->err == ERR_DEPOT_APP_YANKED)) {
		store_twin_free(&u->row);
		ret = u->err == ERR_DEPOT_BAD_APP
			      ? reply_problem(req, u->err, "/properties/desired/app: %s",
					      u->app_why ? u->app_why : "invalid")
			      : reply_problem(req, u->err, "%.200s", u->app_ref);
		return ret;
	}
	if ((ret = twin_write_refused(req, qs, u->err, &u->te, &u->row)) != -1)
		return ret;
	ret = twin_reply(req, &u->row);
	store_twin_free(&u->row);
	return ret;
}

static int twin_update(struct request *req, bool replace)
{
	struct twin_update u = {.req = req, .id = req->params[0], .replace = replace};
	struct twin_batched *tb = req->state;
	char *params = NULL;
	struct twin_err te;
	enum store_qs qs;
	int ret;

	if (tb != NULL) /* resumed: the batch ran it */
		return twin_update_reply(req, &tb->u, tb->job.qs);
	if (!twin_device_id_ok(u.id))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	if ((ret = twin_body(req, &u)) != -1)
		return ret;
	if ((u.tags && twin_check_patch(u.tags, "/tags", &te) != TWIN_OK) ||
	    (u.desired && twin_check_patch(u.desired, "/properties/desired", &te) != TWIN_OK))
		return reply_problem(req, twin_fault_err(te.fault), "%s: %s", te.where, te.msg);
	u.if_match = request_header(req, "If-Match");
	twin_now(u.now);
	if (u.tags == NULL && !replace && req->srv->twin_batch != NULL &&
	    (tb = calloc(1, sizeof *tb)) != NULL) {
		/* Desired only: configurations need not be re-evaluated. */
		tb->u = u;
		audit_entry_from_request(req, 200, &tb->u.audit, &tb->params);
		tb->job = (struct twin_job){.req = req, .id = u.id, .ops = &batch_ops, .cls = tb};
		request_set_state(req, tb, twin_batched_free);
		if (twin_batch_submit(req->srv->twin_batch, &tb->job))
			return MHD_YES;		    /* resumed with the result */
		request_set_state(req, NULL, NULL); /* stopping: done here, as before */
	}
	audit_entry_from_request(req, 200, &u.audit, &params);
	if (u.tags == NULL && !replace) {
		struct twin_optimistic o = {.u = &u};

		qs = store_run(req->srv->store, twin_optimistic_cb, &o);
		if (o.fallback)
			qs = store_run_txn(req->srv->store, twin_update_cb, &u);
		else if (qs > 0 && u.err == 0)
			twin_announce(req->srv, &u.row, o.audit_id);
	} else {
		qs = store_run_txn(req->srv->store, twin_update_cb, &u);
	}
	free(params);
	ret = twin_update_reply(req, &u, qs);
	free(u.app_ref);
	return ret;
}

int h_twins_patch(struct request *req)
{
	return twin_update(req, false);
}

int h_twins_put(struct request *req)
{
	return twin_update(req, true);
}
