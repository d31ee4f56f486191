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

/* Writes cfg's content into twin device_id and records it. STORE_NONE
 * without writing when the twin is gone or the result would pass a twin
 * limit (logged: the configuration cannot apply there). */
static enum store_qs apply_one(struct store_conn *c, const char *device_id,
			       const struct store_config *cfg, const char *now)
{
	struct store_twin t;
	json_t *desired = NULL, *content = NULL, *patch = NULL;
	char etag[16], why[160], *text = NULL;
	struct twin_err te;
	enum store_qs qs = store_lock_twin(c, device_id, &t);

	if (qs != STORE_ONE)
		return qs < 0 ? qs : STORE_NONE;
	desired = json_loads(t.desired, 0, NULL);
	content = json_loads(cfg->device_content, 0, NULL);
	patch = content ? configs_content_patch(content, why, sizeof why) : NULL;
	qs = STORE_HARD;
	if (desired == NULL || patch == NULL || twin_etag_new(etag) != 0)
		goto out;
	if (twin_merge_props(desired, patch, now, true, false) != TWIN_OK ||
	    twin_check_size(desired, TWIN_PROPS_MAX, "/properties/desired", &te) != TWIN_OK) {
		log_kv(LOG_WARN, "configuration does not fit the twin", "configuration", cfg->id,
		       "deviceId", device_id, NULL);
		qs = STORE_NONE;
		goto out;
	}
	if ((text = json_dumps(desired, JSON_COMPACT)) == NULL)
		goto out;
	free(t.desired);
	free(t.etag);
	t.desired = text;
	t.etag = strdup(etag);
	text = NULL;
	t.version++;
	t.desired_version = twin_props_version(desired);
	if (t.etag == NULL)
		goto out;
	qs = store_update_twin(c, &t);
	if (qs >= 0)
		qs = store_upsert_config_applied(c, device_id, cfg->id, cfg->etag);
	if (qs >= 0)
		qs = STORE_ONE;
out:
	free(text);
	json_decref(desired);
	json_decref(content);
	json_decref(patch);
	store_twin_free(&t);
	return qs;
}

/* One pass: the twin device_id, or up to CONFIGS_CHUNK candidates after
 * `after`; *last gets the last device ID looked at ("" when none). */
static enum store_qs reconcile(struct store_conn *c, const char *device_id, const char *after,
			       size_t *applied, size_t *looked, char last[CONFIGS_ID_BUF])
{
	struct store_config *cfgs = NULL;
	struct twinq *conds = NULL;
	struct store_config_winner *w = NULL;
	size_t ncfg = 0, nw = 0, base = 0, done = 0;
	char now[40];
	enum store_qs qs;

	*applied = *looked = 0;
	last[0] = '\0';
	twin_now(now);
	if ((qs = store_lock_configs(c, device_id != NULL)) < 0 ||
	    (qs = store_select_configs(c, &cfgs, &ncfg)) < 0)
		return qs;
	if (ncfg > 0 && (conds = calloc(ncfg, sizeof *conds)) == NULL) {
		qs = STORE_HARD;
		goto out;
	}
	for (size_t i = 0; i < ncfg; i++) {
		struct twinq_error e;

		if (twinq_compile_condition_from(configs_condition_text(cfgs[i].target_condition),
						 base, &conds[i], &e) != 0) {
			log_bug("stored targetCondition does not compile", "configuration",
				cfgs[i].id, "why", e.msg);
			qs = STORE_HARD;
			goto out;
		}
		base += conds[i].nparams;
	}
	qs = store_select_config_winners(c, conds, ncfg, device_id, after, CONFIGS_CHUNK, &w, &nw);
	for (size_t i = 0; qs >= 0 && i < nw; i++) {
		const struct store_config *win =
			w[i].winner >= 0 && (size_t)w[i].winner < ncfg ? &cfgs[w[i].winner] : NULL;

		if (win == NULL) {
			if (w[i].applied_id != NULL)
				qs = store_delete_config_applied(c, w[i].device_id);
		} else if (w[i].applied_id == NULL || strcmp(w[i].applied_id, win->id) != 0 ||
			   strcmp(w[i].applied_etag, win->etag) != 0) {
			qs = apply_one(c, w[i].device_id, win, now);
			done += qs > 0;
		}
	}
	if (qs > 0)
		qs = STORE_NONE;
	if (qs >= 0 && nw > 0)
		snprintf(last, CONFIGS_ID_BUF, "%s", w[nw - 1].device_id);
	*applied = done;
	*looked = nw;
out:
	store_config_winners_free(w, nw);
	for (size_t i = 0; conds && i < ncfg; i++)
		twinq_free(&conds[i]);
	free(conds);
	for (size_t i = 0; i < ncfg; i++)
		store_config_free(&cfgs[i]);
	free(cfgs);
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
