/* PUT, GET and DELETE /configurations/{id}: IoT Hub fleet configurations
 * (automatic device management). PUT and DELETE change the configuration
 * in one transaction, then re-evaluate every twin on a job worker before
 * replying, so a reply means the content is in the twins' desired
 * properties; GET counts systemMetrics (targetedCount, appliedCount) and
 * the custom metric queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "depot/depot.h"
#include "server/configs.h"
#include "server/handlers.h"
#include "server/jobs.h"
#include "server/configs_member.h"
#include "server/depot.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/twins.h"

#define CONFIG_ID_MAX 128
#define METRICS_MAX 16

static bool config_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > CONFIG_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      strchr("-_.:+%#*?!(),=@$'", *p) != NULL))
			return false;
	return true;
}

/* A condition (or, with whole, a metric query) compiles, else the reply. */
static int condition_check(struct request *req, const char *what, const char *text, bool whole)
{
	struct twinq q;
	struct twinq_error e;
	int rc = whole ? twinq_compile(text, &q, &e)
		       : twinq_compile_condition(configs_condition_text(text), &q, &e);

	twinq_free(&q);
	if (rc == 0)
		return -1;
	return reply_problem_ext(
		__FILE__, __LINE__, req, ERR_CONFIG_BAD_CONDITION,
		json_pack("{s:s, s:I}", "field", what, "position", (json_int_t)e.pos), e.msg);
}

/* ---- GET ----------------------------------------------------------------------- */

struct config_read {
	const char *id;
	struct store_config row;
	long long targeted, applied;
	json_t *results; /* metric name -> count */
};

static enum store_qs count_query(struct store_conn *c, const char *text, bool whole, long long *n)
{
	struct twinq q;
	struct twinq_error e;
	enum store_qs qs;

	*n = 0;
	if ((whole ? twinq_compile(text, &q, &e) : twinq_compile_condition(text, &q, &e)) != 0)
		return STORE_HARD; /* checked on PUT: a bug now */
	qs = store_count_twins_where(c, &q, n);
	twinq_free(&q);
	return qs;
}

static enum store_qs config_read_cb(struct store_conn *c, void *cls)
{
	struct config_read *r = cls;
	json_t *queries;
	const char *name;
	json_t *text;
	enum store_qs qs;

	store_config_free(&r->row);
	json_decref(r->results);
	r->results = json_object();
	if ((qs = store_select_config(c, r->id, &r->row)) != STORE_ONE)
		return qs;
	if ((qs = count_query(c, configs_condition_text(r->row.target_condition), false,
			      &r->targeted)) < 0 ||
	    (qs = store_count_config_applied(c, r->id, &r->applied)) < 0)
		return qs;
	queries = json_loads(r->row.metric_queries, 0, NULL);
	json_object_foreach (queries, name, text) {
		long long n;

		if ((qs = count_query(c, json_string_value(text), true, &n)) < 0)
			break;
		json_object_set_new(r->results, name, json_integer(n));
	}
	json_decref(queries);
	return qs < 0 ? qs : STORE_ONE;
}

/* The configuration as IoT Hub serves it (new reference, NULL on OOM). */
static json_t *config_render(const struct config_read *r)
{
	char created[TIMEFMT_RFC3339_LEN], updated[TIMEFMT_RFC3339_LEN], applied_q[200];
	json_t *labels = json_loads(r->row.labels, 0, NULL);
	json_t *content = json_loads(r->row.device_content, 0, NULL);
	json_t *queries = json_loads(r->row.metric_queries, 0, NULL);

	timefmt_rfc3339(r->row.created_at, created);
	timefmt_rfc3339(r->row.updated_at, updated);
	snprintf(applied_q, sizeof applied_q,
		 "SELECT deviceId FROM devices WHERE configurations.[[%s]].status = 'Applied'",
		 r->id);
	return json_pack(
		"{s:s, s:s, s:o?, s:{s:o?}, s:s, s:s, s:s, s:I, s:{s:{s:I, s:I}, s:{s:o?, "
		"s:s}}, s:{s:O, s:o?}, s:s}",
		"id", r->row.id, "schemaVersion", "1.0", "labels", labels, "content",
		"deviceContent", content, "targetCondition", r->row.target_condition,
		"createdTimeUtc", created, "lastUpdatedTimeUtc", updated, "priority",
		(json_int_t)r->row.priority, "systemMetrics", "results", "targetedCount",
		(json_int_t)r->targeted, "appliedCount", (json_int_t)r->applied, "queries",
		"targetedCount",
		json_sprintf("SELECT deviceId FROM devices WHERE %s", r->row.target_condition),
		"appliedCount", applied_q, "metrics", "results", r->results, "queries", queries,
		"etag", r->row.etag);
}

static int config_reply(struct request *req, const char *id)
{
	struct config_read r = {.id = id};
	enum store_qs qs = store_run(req->srv->store, config_read_cb, &r);
	json_t *body = NULL;
	char etag[40];
	char *text;
	int ret;

	if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (qs == STORE_NONE)
		ret = reply_problem(req, ERR_CONFIG_NOT_FOUND, "no configuration %s", id);
	else if ((body = config_render(&r)) == NULL ||
		 (text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		ret = reply_problem(req, ERR_INTERNAL, "cannot render the configuration");
	else {
		snprintf(etag, sizeof etag, "\"%s\"", r.row.etag);
		ret = reply_bytes(req, 200, "application/json", text, strlen(text), etag);
		free(text);
	}
	json_decref(body);
	json_decref(r.results);
	store_config_free(&r.row);
	return ret;
}

int h_config_get(struct request *req)
{
	if (!config_id_ok(req->params[0]))
		return reply_problem(req, ERR_CONFIG_BAD,
				     "a configuration ID is 1 to 128 "
				     "lower-case letters, digits and -_.:+%%#*?!(),=@$'");
	return config_reply(req, req->params[0]);
}

/* ---- PUT and DELETE -------------------------------------------------------------- */

struct config_write {
	const char *if_match;
	struct store_config cfg; /* the new one (PUT) or the ID alone (DELETE) */
	bool remove;
	enum err_code err; /* set when refused: nothing was written */
	char *app_ref;	   /* the depot package the content's desired.app names */
};

static enum store_qs config_write_cb(struct store_conn *c, void *cls)
{
	struct config_write *w = cls;
	struct store_config old;
	enum err_code err;
	enum store_qs qs;

	w->err = 0;
	if ((qs = store_lock_configs(c, false)) < 0 ||
	    (qs = store_select_config(c, w->cfg.id, &old)) < 0)
		return qs;
	if (w->remove && qs == STORE_NONE)
		w->err = ERR_CONFIG_NOT_FOUND;
	else if (!twin_if_match(w->if_match, qs == STORE_ONE ? old.etag : NULL))
		w->err = ERR_CONFIG_ETAG_MISMATCH;
	store_config_free(&old);
	if (w->err == 0 && w->app_ref != NULL && depot_desired_check(c, w->app_ref, &err) != 0) {
		if (err == ERR_DB_UNAVAILABLE)
			return STORE_HARD;
		w->err = err == ERR_DEPOT_YANKED ? ERR_DEPOT_APP_YANKED : ERR_DEPOT_APP_UNKNOWN;
	}
	if (w->err != 0)
		return STORE_NONE;
	return w->remove ? store_delete_config(c, w->cfg.id) : store_upsert_config(c, &w->cfg);
}

/* After the change committed, every twin is re-evaluated on a job worker
 * (chunked transactions, configs_reconcile_all) while the request waits
 * suspended; the reply comes when the twins hold the content. */
struct config_job {
	struct store *store;
	char id[CONFIG_ID_MAX + 1];
	bool remove;
	int rc;
	size_t applied;
};

static void config_job_run(void *state)
{
	struct config_job *j = state;

	j->rc = configs_reconcile_all(j->store, &j->applied);
}

static int config_finish(struct request *req, const struct config_job *j)
{
	if (j->rc != 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE,
				     "the configuration is stored, but applying it stopped; "
				     "the next change or tag update goes on");
	if (j->remove)
		return reply_empty(req, 204);
	return config_reply(req, j->id);
}

static int config_apply(struct request *req, const char *id, bool remove)
{
	struct config_job *j = calloc(1, sizeof *j);

	if (j == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	j->store = req->srv->store;
	snprintf(j->id, sizeof j->id, "%s", id);
	j->remove = remove;
	request_set_state(req, j, free);
	configs_member_changed(req->srv);
	if (jobs_run_for(req->srv->jobs, req, config_job_run))
		return MHD_YES; /* resumed when done: the handler runs again */
	config_job_run(j);	/* the job queue is full: do it here */
	return config_finish(req, j);
}

static enum err_code config_write_run(struct request *req, struct config_write *w)
{
	enum store_qs qs;

	w->if_match = request_header(req, "If-Match");
	qs = store_run_txn(req->srv->store, config_write_cb, w);
	return qs < 0 ? ERR_DB_UNAVAILABLE : w->err;
}

/* Content setting properties.desired.app is checked as a twin's PATCH is
 * (docs/depot.md): its shape here, the package's existence and yank state
 * in the writing transaction (config_write_cb). -1 to go on, else the reply. */
static int config_app(struct request *req, const json_t *patch, struct config_write *w)
{
	json_t *app = json_object_get(patch, "app");
	const char *ref, *why;

	if (!depot_app_named(app, app))
		return -1;
	if (depot_app_check(app, &ref, &why) != 0)
		return reply_problem(req, ERR_DEPOT_BAD_APP,
				     "/content/deviceContent: properties.desired.app: %s", why);
	if ((w->app_ref = strdup(ref)) == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return -1;
}

/* Checks the body and fills w->cfg's JSON texts; -1 when it passes, else
 * the reply. Members GET serves and PUT cannot set are ignored, so GET,
 * edit, PUT works. */
static int config_body(struct request *req, struct config_write *w, char *etag)
{
	static const char *const ignored[] = {"schemaVersion", "etag", "createdTimeUtc",
					      "lastUpdatedTimeUtc", "systemMetrics"};
	json_t *b = req->json, *v, *dc, *patch, *mq = NULL;
	const char *k, *id = req->params[0];
	char why[160];
	struct twin_err te = {0};
	bool ok;
	int ret;

	if (!json_is_object(b))
		return reply_problem(req, ERR_CONFIG_BAD, "the body must be a JSON object");
	json_object_foreach (b, k, v) {
		size_t i;

		for (i = 0; i < sizeof ignored / sizeof ignored[0] && strcmp(k, ignored[i]); i++)
			;
		if (i == sizeof ignored / sizeof ignored[0] && strcmp(k, "id") &&
		    strcmp(k, "priority") && strcmp(k, "targetCondition") && strcmp(k, "content") &&
		    strcmp(k, "labels") && strcmp(k, "metrics"))
			return reply_problem(req, ERR_CONFIG_BAD, "unknown member /%.64s", k);
	}
	if ((v = json_object_get(b, "id")) != NULL &&
	    (!json_is_string(v) || strcmp(json_string_value(v), id) != 0))
		return reply_problem(req, ERR_CONFIG_BAD, "/id: differs from the path's");
	v = json_object_get(b, "priority");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 2147483647)
		return reply_problem(req, ERR_CONFIG_BAD, "/priority: a whole number 0..2^31-1");
	w->cfg.priority = json_integer_value(v);
	v = json_object_get(b, "targetCondition");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return reply_problem(req, ERR_CONFIG_BAD, "/targetCondition: a non-empty string");
	if ((ret = condition_check(req, "targetCondition", json_string_value(v), false)) != -1)
		return ret;
	w->cfg.target_condition = (char *)json_string_value(v);
	v = json_object_get(b, "content");
	dc = json_object_get(v, "deviceContent");
	if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_object(dc))
		return reply_problem(req, ERR_CONFIG_BAD,
				     "/content: {\"deviceContent\": {...}} (module content is "
				     "not served)");
	if ((patch = configs_content_patch(dc, why, sizeof why)) == NULL)
		return reply_problem(req, ERR_CONFIG_BAD, "/content/deviceContent: %s", why);
	ok = twin_check_patch(patch, "/properties/desired", &te) == TWIN_OK &&
	     twin_size(patch) <= TWIN_PROPS_MAX;
	if (ok && (ret = config_app(req, patch, w)) != -1) {
		json_decref(patch);
		return ret;
	}
	json_decref(patch);
	if (!ok)
		return reply_problem(req, ERR_CONFIG_BAD, "/content/deviceContent: %s",
				     te.msg[0] ? te.msg : "over 32 KB");
	v = json_object_get(b, "labels");
	if (v != NULL) {
		json_t *lv;

		if (!json_is_object(v))
			return reply_problem(req, ERR_CONFIG_BAD, "/labels: an object of strings");
		json_object_foreach (v, k, lv)
			if (!json_is_string(lv))
				return reply_problem(req, ERR_CONFIG_BAD,
						     "/labels/%.64s: must be a string", k);
	}
	v = json_object_get(b, "metrics");
	if (v != NULL) {
		json_t *qv;

		mq = json_object_get(v, "queries");
		if (!json_is_object(v) || (mq != NULL && !json_is_object(mq)) ||
		    json_object_size(mq) > METRICS_MAX)
			return reply_problem(req, ERR_CONFIG_BAD,
					     "/metrics: {\"queries\": {name: query}}, at most %d",
					     METRICS_MAX);
		json_object_foreach (mq, k, qv) {
			if (!json_is_string(qv))
				return reply_problem(req, ERR_CONFIG_BAD,
						     "/metrics/queries/%.64s: a query string", k);
			if ((ret = condition_check(req, k, json_string_value(qv), true)) != -1)
				return ret;
		}
	}
	w->cfg.device_content = json_dumps(dc, JSON_COMPACT);
	v = json_object_get(b, "labels");
	w->cfg.labels = v ? json_dumps(v, JSON_COMPACT) : strdup("{}");
	w->cfg.metric_queries = mq ? json_dumps(mq, JSON_COMPACT) : strdup("{}");
	if (w->cfg.device_content == NULL || w->cfg.labels == NULL ||
	    w->cfg.metric_queries == NULL || twin_etag_new(etag) != 0)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	w->cfg.etag = etag;
	return -1;
}

int h_config_put(struct request *req)
{
	struct config_write w = {.cfg.id = (char *)req->params[0]};
	char etag[16];
	enum err_code err;
	int ret;

	if (req->state != NULL)
		return config_finish(req, req->state);
	if (!config_id_ok(w.cfg.id))
		return reply_problem(req, ERR_CONFIG_BAD,
				     "a configuration ID is 1 to 128 "
				     "lower-case letters, digits and -_.:+%%#*?!(),=@$'");
	if ((ret = config_body(req, &w, etag)) == -1) {
		err = config_write_run(req, &w);
		if (err == ERR_DEPOT_APP_UNKNOWN || err == ERR_DEPOT_APP_YANKED)
			ret = reply_problem(req, err, "%.200s", w.app_ref);
		else if (err != 0)
			ret = reply_problem(req, err, NULL);
		else
			ret = config_apply(req, w.cfg.id, false);
	}
	free(w.app_ref);
	free(w.cfg.device_content);
	free(w.cfg.labels);
	free(w.cfg.metric_queries);
	return ret;
}

int h_config_delete(struct request *req)
{
	struct config_write w = {.cfg.id = (char *)req->params[0], .remove = true};
	enum err_code err;

	if (req->state != NULL)
		return config_finish(req, req->state);
	if (!config_id_ok(w.cfg.id))
		return reply_problem(req, ERR_CONFIG_NOT_FOUND, NULL);
	err = config_write_run(req, &w);
	if (err != 0)
		return reply_problem(req, err, NULL);
	return config_apply(req, w.cfg.id, true);
}
