/* Fleet configurations: the winner per twin is the first configuration,
 * in priority order, whose condition matches (one statement evaluates them
 * all); its content is merged into desired properties as an operator's
 * PATCH would be, so $version, $metadata and the etag move as usual. */
#include "server/configs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/store/twins.h"
#include "server/twins.h"

#define DESIRED_PREFIX "properties.desired."

const char *configs_condition_text(const char *cond)
{
	return strcmp(cond, "*") == 0 ? "IS_DEFINED(deviceId)" : cond;
}

json_t *configs_content_patch(const json_t *device_content, char *why, size_t whylen)
{
	json_t *patch = json_object();
	const char *key;
	json_t *value;

	if (patch == NULL || !json_is_object(device_content)) {
		snprintf(why, whylen, "content.deviceContent must be an object");
		json_decref(patch);
		return NULL;
	}
	json_object_foreach ((json_t *)device_content, key, value) {
		char path[1200], *seg, *dot;
		json_t *at = patch;

		if (strncmp(key, DESIRED_PREFIX, strlen(DESIRED_PREFIX)) != 0 ||
		    strlen(key) >= sizeof path) {
			snprintf(why, whylen,
				 "%.80s: deviceContent keys are properties.desired.<path>", key);
			goto fail;
		}
		snprintf(path, sizeof path, "%s", key + strlen(DESIRED_PREFIX));
		for (seg = path; (dot = strchr(seg, '.')) != NULL; seg = dot + 1) {
			json_t *next;

			*dot = '\0';
			if (*seg == '\0')
				goto empty;
			next = json_object_get(at, seg);
			if (next == NULL) {
				next = json_object();
				if (next == NULL || json_object_set_new(at, seg, next) != 0)
					goto nomem;
			} else if (!json_is_object(next)) {
				snprintf(why, whylen, "%.80s: overlaps another deviceContent path",
					 key);
				goto fail;
			}
			at = next;
		}
		if (*seg == '\0')
			goto empty;
		if (json_object_get(at, seg) != NULL) {
			snprintf(why, whylen, "%.80s: overlaps another deviceContent path", key);
			goto fail;
		}
		if (json_object_set(at, seg, value) != 0)
			goto nomem;
		continue;
	empty:
		snprintf(why, whylen, "%.80s: an empty path segment", key);
		goto fail;
	}
	return patch;
nomem:
	snprintf(why, whylen, "out of memory");
fail:
	json_decref(patch);
	return NULL;
}

/* cfg's content merged into the desired section of t (new reference), or
 * NULL when out of memory or past a twin limit (logged: the configuration
 * cannot apply there). *applied gets the merge patch as the twin's history
 * keeps it, {"properties":{"desired":...}} (new reference), when merged. */
static json_t *merged_desired(const struct store_twin *t, const struct store_config *cfg,
			      const char *now, json_t **applied)
{
	json_t *desired = json_loads(t->desired, 0, NULL);
	json_t *content = json_loads(cfg->device_content, 0, NULL);
	json_t *patch = NULL;
	struct twin_err te;
	char why[160];

	patch = content ? configs_content_patch(content, why, sizeof why) : NULL;
	if (desired != NULL &&
	    (patch == NULL || twin_merge_props(desired, patch, now, true, false) != TWIN_OK ||
	     twin_check_size(desired, TWIN_PROPS_MAX, "/properties/desired", &te) != TWIN_OK)) {
		log_kv(LOG_WARN, "configuration does not fit the twin", "configuration", cfg->id,
		       "deviceId", t->device_id, NULL);
		json_decref(desired);
		desired = NULL;
	}
	*applied = desired ? json_pack("{s:{s:O}}", "properties", "desired", patch) : NULL;
	if (desired != NULL && *applied == NULL) {
		json_decref(desired);
		desired = NULL;
	}
	json_decref(content);
	json_decref(patch);
	return desired;
}

/* Writes each of the nw winners' content into its twin: one lock, one
 * update and one record for the whole batch. Twins gone meanwhile or past
 * a limit are skipped. *applied counts the twins written. */
static enum store_qs apply_batch(struct store_conn *c, const struct store_config_winner *const *w,
				 size_t nw, const struct store_config *cfgs, const char *now,
				 size_t *applied)
{
	json_t *ids = json_array(), *rows = json_array(), *recs = json_array();
	char *ids_t = NULL, *rows_t = NULL, *recs_t = NULL;
	struct store_twin *t = NULL;
	size_t nt = 0;
	enum store_qs qs = STORE_HARD;

	*applied = 0;
	for (size_t i = 0; ids && i < nw; i++)
		if (json_array_append_new(ids, json_string(w[i]->device_id)) != 0)
			goto out;
	if (ids == NULL || rows == NULL || recs == NULL ||
	    (ids_t = json_dumps(ids, JSON_COMPACT)) == NULL)
		goto out;
	if ((qs = store_lock_twins(c, ids_t, &t, &nt)) < 0)
		goto out;
	qs = STORE_HARD;
	for (size_t i = 0; i < nt; i++) {
		const struct store_config *cfg = NULL;
		json_t *desired, *applied_patch = NULL;
		char etag[16];

		for (size_t j = 0; j < nw && cfg == NULL; j++)
			if (strcmp(w[j]->device_id, t[i].device_id) == 0)
				cfg = &cfgs[w[j]->winner];
		if (cfg == NULL ||
		    (desired = merged_desired(&t[i], cfg, now, &applied_patch)) == NULL)
			continue;
		if (twin_etag_new(etag) != 0) {
			json_decref(desired);
			json_decref(applied_patch);
			goto out;
		}
		/* The history records who: configuration_id, and what: its patch. */
		if (json_array_append_new(rows, json_pack("{s:s, s:s, s:I, s:o, s:s, s:o}",
							  "device_id", t[i].device_id, "etag", etag,
							  "version", (json_int_t)t[i].version + 1,
							  "desired", desired, "configuration",
							  cfg->id, "patch", applied_patch)) != 0 ||
		    json_array_append_new(recs,
					  json_pack("{s:s, s:s, s:s}", "device_id", t[i].device_id,
						    "id", cfg->id, "etag", cfg->etag)) != 0)
			goto out;
	}
	qs = STORE_NONE;
	if (json_array_size(rows) == 0)
		goto out;
	qs = STORE_HARD;
	if ((rows_t = json_dumps(rows, JSON_COMPACT)) == NULL ||
	    (recs_t = json_dumps(recs, JSON_COMPACT)) == NULL)
		goto out;
	if ((qs = store_update_twins_desired(c, rows_t)) >= 0 &&
	    (qs = store_upsert_config_applied(c, recs_t)) >= 0) {
		*applied = json_array_size(rows);
		qs = STORE_NONE;
	}
out:
	for (size_t i = 0; i < nt; i++)
		store_twin_free(&t[i]);
	free(t);
	free(ids_t);
	free(rows_t);
	free(recs_t);
	json_decref(ids);
	json_decref(rows);
	json_decref(recs);
	return qs;
}

/* Every configuration (priority order) and its condition compiled, the
 * parameters of all numbered apart so they share one statement. */
static enum store_qs configs_load(struct store_conn *c, struct store_config **cfgs, size_t *ncfg,
				  struct twinq **conds)
{
	enum store_qs qs;
	size_t base = 0;

	*conds = NULL;
	if ((qs = store_select_configs(c, cfgs, ncfg)) < 0)
		return qs;
	if (*ncfg > 0 && (*conds = calloc(*ncfg, sizeof **conds)) == NULL)
		return STORE_HARD;
	for (size_t i = 0; i < *ncfg; i++) {
		struct twinq_error e;

		if (twinq_compile_condition_from(
			    configs_condition_text((*cfgs)[i].target_condition), base, &(*conds)[i],
			    &e) != 0) {
			log_bug("stored targetCondition does not compile", "configuration",
				(*cfgs)[i].id, "why", e.msg);
			return STORE_HARD;
		}
		base += (*conds)[i].nparams;
	}
	return qs;
}

static void configs_unload(struct store_config *cfgs, size_t ncfg, struct twinq *conds)
{
	for (size_t i = 0; conds && i < ncfg; i++)
		twinq_free(&conds[i]);
	free(conds);
	for (size_t i = 0; i < ncfg; i++)
		store_config_free(&cfgs[i]);
	free(cfgs);
}

/* One pass: the twin device_id, or up to CONFIGS_CHUNK candidates after
 * `after`; *last gets the last device ID looked at ("" when none). */
static enum store_qs reconcile(struct store_conn *c, const char *device_id, const char *after,
			       size_t *applied, size_t *looked, char last[CONFIGS_ID_BUF])
{
	struct store_config *cfgs = NULL;
	struct twinq *conds = NULL;
	struct store_config_winner *w = NULL;
	const struct store_config_winner **todo = NULL;
	size_t ncfg = 0, nw = 0, done = 0, ntodo = 0;
	char now[40];
	enum store_qs qs;

	*applied = *looked = 0;
	last[0] = '\0';
	twin_now(now);
	if ((qs = store_lock_configs(c, device_id != NULL)) < 0 ||
	    (qs = configs_load(c, &cfgs, &ncfg, &conds)) < 0)
		goto out;
	qs = store_select_config_winners(c, conds, ncfg, device_id, after, CONFIGS_CHUNK, &w, &nw);
	if (qs >= 0 && nw > 0 && (todo = calloc(nw, sizeof *todo)) == NULL)
		qs = STORE_HARD;
	for (size_t i = 0; qs >= 0 && i < nw; i++) {
		const struct store_config *win =
			w[i].winner >= 0 && (size_t)w[i].winner < ncfg ? &cfgs[w[i].winner] : NULL;

		if (win == NULL) {
			if (w[i].applied_id != NULL)
				qs = store_delete_config_applied(c, w[i].device_id);
		} else if (w[i].applied_id == NULL || strcmp(w[i].applied_id, win->id) != 0 ||
			   strcmp(w[i].applied_etag, win->etag) != 0) {
			todo[ntodo++] = &w[i];
		}
	}
	if (qs >= 0 && ntodo > 0)
		qs = apply_batch(c, todo, ntodo, cfgs, now, &done);
	if (qs > 0)
		qs = STORE_NONE;
	if (qs >= 0 && nw > 0)
		snprintf(last, CONFIGS_ID_BUF, "%s", w[nw - 1].device_id);
	*applied = done;
	*looked = nw;
out:
	free(todo);
	store_config_winners_free(w, nw);
	configs_unload(cfgs, ncfg, conds);
	return qs;
}

enum store_qs configs_reconcile(struct store_conn *c, const char *device_id, size_t *applied)
{
	size_t n, looked;
	char last[CONFIGS_ID_BUF];
	enum store_qs qs = reconcile(c, device_id, NULL, &n, &looked, last);

	if (applied != NULL)
		*applied = n;
	return qs;
}

struct chunk {
	const char *after;
	size_t applied, looked;
	char last[CONFIGS_ID_BUF];
};

static enum store_qs chunk_cb(struct store_conn *c, void *cls)
{
	struct chunk *k = cls;

	return reconcile(c, NULL, k->after, &k->applied, &k->looked, k->last);
}

int configs_reconcile_all(struct store *s, size_t *applied)
{
	char after[CONFIGS_ID_BUF] = "";
	struct chunk k;

	*applied = 0;
	do {
		k = (struct chunk){.after = after[0] ? after : NULL};
		if (store_run_txn(s, chunk_cb, &k) < 0)
			return -1;
		*applied += k.applied;
		memcpy(after, k.last, sizeof after);
	} while (k.looked == CONFIGS_CHUNK);
	return 0;
}

enum store_qs configs_twin_member(struct store_conn *c, const char *device_id, json_t **out,
				  size_t *nconfigs)
{
	struct store_config *cfgs = NULL;
	struct twinq *conds = NULL;
	size_t ncfg = 0;
	bool *hit = NULL;
	char *applied = NULL;
	enum store_qs qs;

	*out = NULL;
	*nconfigs = 0;
	if ((qs = configs_load(c, &cfgs, &ncfg, &conds)) < 0 || ncfg == 0)
		goto out;
	*nconfigs = ncfg;
	if ((hit = calloc(ncfg, sizeof *hit)) == NULL || (*out = json_object()) == NULL) {
		qs = STORE_HARD;
		goto out;
	}
	qs = store_select_config_targets(c, conds, ncfg, device_id, hit, &applied);
	for (size_t i = 0; qs == STORE_ONE && i < ncfg; i++) {
		bool is_applied = applied != NULL && strcmp(applied, cfgs[i].id) == 0;
		if ((hit[i] || is_applied) &&
		    json_object_set_new(
			    *out, cfgs[i].id,
			    json_pack("{s:s}", "status", is_applied ? "applied" : "targeted")) != 0)
			qs = STORE_HARD;
	}
out:
	if (qs < 0) {
		json_decref(*out);
		*out = NULL;
	}
	free(applied);
	free(hit);
	configs_unload(cfgs, ncfg, conds);
	return qs;
}
