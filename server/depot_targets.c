/* The targets compiled forms are made for: those of --depot-compile-targets
 * and those devices report in their twins (properties.reported.agent.target),
 * taken only when the compiler can produce them; see docs/depot.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/target.h"
#include "server/depot_int.h"
#include "server/jobs.h"
#include "server/server.h"
#include "server/store/depot_compiled.h"

bool depot_target_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DEPOT_TARGET_MAX)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

size_t depot_count_targets(struct depot *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->ntargets;
	pthread_mutex_unlock(&d->lock);
	return n;
}

size_t depot_targets(const struct server *srv, const char **out, size_t max)
{
	size_t n = 0, have = depot_count_targets(srv->depot);

	for (; srv->depot->compiler != NULL && n < have && n < max; n++)
		out[n] = srv->depot->targets[n];
	return n;
}

/* A reported target's form: ARCH-linux-gnu[ABI], ARCH and ABI lowercase
 * letters, digits and '_' ("x86_64-linux-gnu", "arm-linux-gnueabihf"). */
static bool reported_form_ok(const char *t)
{
	const char *p = t, *gnu;
	size_t n = strnlen(t, DEPOT_TARGET_MAX + 1);

	if (n == 0 || n > DEPOT_TARGET_MAX)
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	if (p == t || strncmp(p, "-linux-gnu", 10) != 0)
		return false;
	for (gnu = p + 10; (*gnu >= 'a' && *gnu <= 'z') || (*gnu >= '0' && *gnu <= '9'); gnu++)
		;
	return *gnu == '\0';
}

/* Whether the compiler can make target: the host's own (cc), or one whose
 * cross compiler TARGET-gcc is on PATH (what orchard-wasm compile runs). */
static bool target_producible(const char *t)
{
	const char *path = getenv("PATH");

	if (strcmp(t, target_host()) == 0)
		return true;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p != '\0';) {
		size_t n = strcspn(p, ":");
		char file[4200];

		if (n > 0 && n < 4000) {
			snprintf(file, sizeof file, "%.*s/%s-gcc", (int)n, p, t);
			if (access(file, X_OK) == 0)
				return true;
		}
		p += n + (p[n] == ':');
	}
	return false;
}

/* Adds a reported target: 1 when new and accepted (the caller queues its
 * compilations), 0 when known already, -1 when ignored (logged once per
 * distinct value while the ignored list has room). A target ignored for
 * want of its cross compiler is looked for on PATH again at each report,
 * so installing the compiler takes effect without a restart. */
static int target_add(struct depot *d, const char *t)
{
	char shown[DEPOT_TARGET_MAX + 1];
	bool form, can, retry = false;
	int rc = -1;

	/* Shown bounded, and only in the form's characters when malformed. */
	snprintf(shown, sizeof shown, "%.*s", DEPOT_TARGET_MAX, t);
	for (char *p = shown; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			*p = '?';
	/* Seen before (the common case: every agent start reports it): no
	 * log, and no look at PATH unless its compiler was missing. */
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->ntargets; i++)
		if (strcmp(d->targets[i], t) == 0)
			rc = 0;
	for (size_t i = 0; rc < 0 && i < d->nignored; i++)
		if (strcmp(d->ignored[i], shown) == 0) {
			rc = -2;
			retry = d->ignored_retry[i];
		}
	pthread_mutex_unlock(&d->lock);
	if (rc == 0 || (rc == -2 && !retry))
		return rc == 0 ? 0 : -1;
	form = reported_form_ok(t);
	can = form && target_producible(t);
	if (retry && !can)
		return -1;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->ntargets; i++)
		if (strcmp(d->targets[i], t) == 0) { /* another thread added it meanwhile */
			pthread_mutex_unlock(&d->lock);
			return 0;
		}
	if (can && d->ntargets < COMPILE_TARGETS_MAX + REPORTED_TARGETS_MAX) {
		memcpy(d->targets[d->ntargets], t, strlen(t) + 1);
		d->ntargets++;
		pthread_mutex_unlock(&d->lock);
		log_kv(LOG_INFO, "depot: compiling for a target devices report", "target", t, NULL);
		return 1;
	}
	for (size_t i = 0; i < d->nignored; i++)
		if (strcmp(d->ignored[i], shown) == 0)
			goto out;
	if (d->nignored < IGNORED_TARGETS_MAX) {
		d->ignored_retry[d->nignored] = form && !can;
		memcpy(d->ignored[d->nignored++], shown, strlen(shown) + 1);
		log_kv(LOG_WARN,
		       !form  ? "depot: ignoring a reported target of a bad form"
		       : !can ? "depot: ignoring a reported target the compiler cannot produce"
			      : "depot: ignoring a reported target, too many targets",
		       "target", shown, NULL);
	}
out:
	pthread_mutex_unlock(&d->lock);
	return -1;
}

struct reported_op {
	char **t;
	size_t n;
};

static enum store_qs reported_cb(struct store_conn *c, void *cls)
{
	struct reported_op *o = cls;

	store_twin_agent_targets_free(o->t, o->n);
	o->t = NULL;
	o->n = 0;
	return store_select_twin_agent_targets(c, REPORTED_TARGETS_MAX + IGNORED_TARGETS_MAX, &o->t,
					       &o->n);
}

/* Reads the targets twins report and adds them (before a requeue or the
 * compilations of a publish, which then cover them). */
static void targets_from_twins(struct server *srv)
{
	struct reported_op o = {0};

	if (store_run(srv->store, reported_cb, &o) < 0)
		log_kv(LOG_WARN, "depot: cannot read the targets devices report", NULL);
	for (size_t i = 0; i < o.n; i++)
		target_add(srv->depot, o.t[i]);
	store_twin_agent_targets_free(o.t, o.n);
}

static void requeue_target(struct server *srv, const char *target);

/* A target a device reported (queue what it lacks), or a module just
 * published (read the reported targets, queue it for each). */
struct target_job {
	struct server *srv;
	char target[DEPOT_TARGET_MAX + 1];
	char module[65];
};

static void target_job_run(void *cls)
{
	struct target_job *j = cls;
	struct depot *d = j->srv->depot;
	size_t n;

	if (atomic_load(&d->stopping))
		return;
	if (j->target[0] != '\0') {
		requeue_target(j->srv, j->target);
		return;
	}
	targets_from_twins(j->srv);
	n = depot_count_targets(d);
	for (size_t i = 0; i < n; i++)
		depot_queue_compile(j->srv, j->module, d->targets[i]);
}

void depot_twin_reported(struct server *srv, const json_t *patch)
{
	struct depot *d = srv->depot;
	const json_t *t = json_object_get(json_object_get(patch, "agent"), "target");
	struct target_job *j;

	if (d == NULL || d->compiler == NULL || !json_is_string(t))
		return;
	if (target_add(d, json_string_value(t)) != 1)
		return;
	/* The store work is the depot worker's, not the request thread's. */
	if ((j = calloc(1, sizeof *j)) == NULL)
		return;
	j->srv = srv;
	snprintf(j->target, sizeof j->target, "%s", json_string_value(t));
	if (jobs_submit(d->jobs, target_job_run, free, j) != 0)
		free(j);
}

void depot_after_publish(struct server *srv, const struct store_depot_package *p)
{
	struct depot *d = srv->depot;
	struct target_job *j;

	if (d == NULL || d->compiler == NULL || (j = calloc(1, sizeof *j)) == NULL)
		return;
	/* On the depot's worker: reading the twins is no request's work. */
	j->srv = srv;
	snprintf(j->module, sizeof j->module, "%s", p->module_sha256);
	if (jobs_submit(d->jobs, target_job_run, free, j) != 0) {
		log_kv(LOG_WARN, "depot: the compile queue is full", "module", j->module, NULL);
		free(j);
	}
}

struct uncompiled_op {
	const char *target;
	char (*rows)[65];
	size_t n;
};

static enum store_qs uncompiled_cb(struct store_conn *c, void *cls)
{
	struct uncompiled_op *o = cls;

	free(o->rows);
	return store_select_depot_modules_uncompiled(c, o->target, COMPILE_REQUEUE_MAX, &o->rows,
						     &o->n);
}

static void requeue_target(struct server *srv, const char *target)
{
	struct uncompiled_op o = {.target = target};

	if (store_run(srv->store, uncompiled_cb, &o) < 0)
		log_kv(LOG_WARN, "depot: cannot list modules to compile", NULL);
	for (size_t k = 0; k < o.n; k++)
		depot_queue_compile(srv, o.rows[k], target);
	free(o.rows);
}

void depot_requeue(struct server *srv)
{
	struct depot *d = srv->depot;
	size_t n;

	if (d == NULL || d->compiler == NULL)
		return;
	targets_from_twins(srv);
	n = depot_count_targets(d);
	for (size_t i = 0; i < n; i++)
		requeue_target(srv, d->targets[i]);
}
