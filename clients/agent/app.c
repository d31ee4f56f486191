/* app.c: the app the twin names: its package (package.c) run in the WASM
 * runtime's supervisor. A new desired package starts only after the
 * old one stopped (they may want the same port); if the new one does not
 * start, the old one runs again and reported.app.error says why. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "clients/wasm/runner.h"
#include "clients/wasm/supervisor.h"
#include "common/file.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "depot/depot.h"

#define START_WAIT_MS 10000
#define ARGS_MAX 64
#define AOT_RECHECK_FIRST 5 /* s; doubling up to AOT_RECHECK_MAX */
#define AOT_RECHECK_MAX 600

struct running {
	char ref[256];
	json_t *bound; /* NULL: none given */
	supervisor_child *ch;
	runner_opts *o;
	char *argv[ARGS_MAX + 2];
	char *envp[ARGS_MAX + 1];
	char datadir[4096];
	char wasm_path[4200];
	bool aot;	      /* runs the depot's compiled form */
	char engine_why[256]; /* why the interpreter, when it is */
	int aot_wait;	      /* >0: ask for the compiled form again after so many s */
	time_t aot_at;	      /* when */
	time_t started;
	bool ended;
	int status;
	char why[256];
	char since[TIMEFMT_RFC3339_LEN];
};

struct app {
	const struct agent_config *c;
	const struct agent_identity *id;
	struct running *cur;
	json_t *want;	   /* the desired.app last acted on */
	int failures;	   /* crashes in a row */
	time_t restart_at; /* when to restart a crashed app */
	time_t retry_at;   /* when to retry a desired app that failed for a transient reason */
};

static void now_str(char out[TIMEFMT_RFC3339_LEN])
{
	timefmt_rfc3339((long long)time(NULL), out);
}

static void running_free(struct running *r)
{
	if (!r)
		return;
	supervisor_free(r->ch);
	for (size_t i = 0; r->argv[i]; i++)
		free(r->argv[i]);
	for (size_t i = 0; r->envp[i]; i++)
		free(r->envp[i]);
	json_decref(r->bound);
	free(r->o);
	free(r);
}

static int run_child(void *arg)
{
	/* A forked child keeps the agent's handlers: SIGTERM must end the app.
	 * SIGXFSZ stays ignored on purpose: over a file size limit the app's
	 * write fails with EFBIG, an errno WASI hands it, instead of a kill. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	return runner_main(arg);
}

/* Builds the runner's options from a verified manifest. */
static struct running *running_new(struct app *a, const char *ref, const char *dir,
				   const struct depot_manifest *m, const json_t *bound, bool fetch,
				   const char **why)
{
	struct running *r = calloc(1, sizeof(*r));
	if (!r || !(r->o = calloc(1, sizeof(*r->o)))) {
		free(r);
		*why = "out of memory";
		return NULL;
	}
	snprintf(r->ref, sizeof(r->ref), "%s", ref);
	r->bound = bound ? json_deep_copy(bound) : NULL;
	char cwasm[4200];
	const char *ewhy = NULL;
	snprintf(r->wasm_path, sizeof(r->wasm_path), "%s/module.wasm", dir);
	runner_opts *o = r->o;
	int rc_aot = compiled_get(a->c, a->id, ref, dir, m, fetch, cwasm, &ewhy);
	if (rc_aot == 0) {
		/* verified: the depot signed it for this module, target, toolchain */
		o->module_path = strdup(cwasm);
		o->allow_native = true;
		r->aot = true;
	} else {
		o->module_path = strdup(r->wasm_path);
		snprintf(r->engine_why, sizeof(r->engine_why), "%s", ewhy ? ewhy : "?");
		if (rc_aot == -2)
			r->aot_wait = AOT_RECHECK_FIRST;
	}
	size_t n = 0, i;
	json_t *v, *caps = json_object_get(m->doc, "capabilities");
	const char *k;
	r->argv[n++] = strdup(m->name);
	json_array_foreach (json_object_get(m->doc, "args"), i, v) {
		if (n < ARGS_MAX + 1)
			r->argv[n++] = strdup(json_string_value(v));
	}
	n = 0;
	json_object_foreach (json_object_get(m->doc, "env"), k, v) {
		if (n < ARGS_MAX && asprintf(&r->envp[n], "%s=%s", k, json_string_value(v)) > 0)
			n++;
	}
	json_array_foreach (json_object_get(caps, "listen"), i, v) {
		char port[16];
		snprintf(port, sizeof(port), "%lld", (long long)json_integer_value(v));
		if (grants_add_listen(&o->grants, port) < 0) {
			*why = "cannot grant a listen port";
			goto fail;
		}
	}
	json_array_foreach (json_object_get(caps, "connect"), i, v) {
		char err[256];
		if (grants_add_connect(&o->grants, json_string_value(v), err, sizeof(err)) < 0) {
			*why = "cannot resolve a connect address";
			goto fail;
		}
	}
	if (m->dir) {
		snprintf(r->datadir, sizeof(r->datadir), "%s/data/%s/%s", a->c->state_dir,
			 m->publisher, m->name);
		if (file_mkdir_p(r->datadir) < 0) {
			*why = "cannot create the data folder";
			goto fail;
		}
		o->dirs[0].host = r->datadir;
		o->dirs[0].guest = "/data";
		o->ndirs = 1;
	}
	o->argv = r->argv;
	o->envp = r->envp;
	o->max_memory = (uint64_t)m->memory_mib << 20;
	o->cpu_seconds = (uint64_t)m->cpu_seconds;
	return r;
fail:
	free((char *)o->module_path);
	o->module_path = NULL;
	running_free(r);
	return NULL;
}

static void running_release(struct running *r)
{
	if (r && r->o) {
		free((char *)r->o->module_path);
		r->o->module_path = NULL;
	}
	running_free(r);
}

static bool port_answers(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Spawns r and waits until it runs: its first listen port answers, or
 * (no port) it is still alive after a second. 0, or -1 with r->why. */
static int running_start(struct running *r)
{
	supervisor_opts so = {.cpu_seconds = r->o->cpu_seconds, .max_memory = r->o->max_memory};
again:
	supervisor_free(r->ch);
	r->ended = false;
	r->why[0] = '\0';
	r->ch = supervisor_spawn(run_child, r->o, &so);
	if (!r->ch) {
		snprintf(r->why, sizeof(r->why), "fork failed");
		return -1;
	}
	uint16_t port = r->o->grants.nlisten ? r->o->grants.listen[0].port : 0;
	for (int t = 0; t < START_WAIT_MS && !agent_stopping; t += 100) {
		if (supervisor_wait(r->ch, 100, &r->status, r->why, sizeof(r->why)) == 1) {
			r->ended = true;
			if (r->aot && r->status == RUNNER_EXIT_MODULE) {
				/* The runtime refused the compiled form: the module then. */
				log_kv(LOG_WARN, "compiled form refused, interpreting", "why",
				       r->why, NULL);
				snprintf(r->engine_why, sizeof(r->engine_why),
					 "the runtime refused the compiled form");
				free((char *)r->o->module_path);
				r->o->module_path = strdup(r->wasm_path);
				r->o->allow_native = false;
				r->aot = false;
				goto again;
			}
			if (!r->why[0])
				snprintf(r->why, sizeof(r->why), "exited with status %d at start",
					 r->status);
			return -1;
		}
		if (port ? port_answers(port) : t >= 1000) {
			r->started = time(NULL);
			r->aot_at = !r->aot && r->aot_wait ? r->started + r->aot_wait : 0;
			now_str(r->since);
			return 0;
		}
	}
	snprintf(r->why, sizeof(r->why), "did not answer on port %u within %d s", port,
		 START_WAIT_MS / 1000);
	supervisor_stop(r->ch, 2000);
	supervisor_wait(r->ch, -1, &r->status, r->why + strlen(r->why), 1);
	r->ended = true;
	return -1;
}

static void running_stop(struct running *r)
{
	if (!r || !r->ch || r->ended)
		return;
	supervisor_stop(r->ch, 3000);
	supervisor_wait(r->ch, -1, &r->status, r->why, sizeof(r->why));
	r->ended = true;
}

void report(const struct agent_config *c, const struct agent_identity *id, json_t *patch)
{
	char url[2048];
	snprintf(url, sizeof(url), "%s/devices/%s/twin/reported", c->url, id->device_id);
	char *sas = device_auth(c, id);
	char *body = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
	struct http_reply r;
	if (!body)
		log_bug("reported patch not built", NULL);
	if (sas && body && http_json(c, "PATCH", url, sas, body, 15, &r) == 0) {
		if (r.status != 200) {
			char st[16];
			snprintf(st, sizeof(st), "%ld", r.status);
			log_kv(LOG_WARN, "reported refused", "status", st, NULL);
		}
		http_reply_free(&r);
	}
	free(sas);
	free(body);
	json_decref(patch);
}

/* reported.app's engine for r: "aot", or "interpreter" and why. */
static void add_engine(json_t *app, const struct running *r)
{
	json_object_set_new(app, "engine", json_string(r->aot ? "aot" : "interpreter"));
	json_object_set_new(app, "engineReason", r->aot ? json_null() : json_string(r->engine_why));
}

/* Reports ref in state; r (NULL: not started yet) adds its engine. */
static void report_state(struct app *a, const char *ref, const char *state, const char *since,
			 const struct running *r)
{
	log_kv(LOG_INFO, "app", "package", ref, "state", state, r ? "engine" : NULL,
	       r && r->aot ? "aot" : "interpreter", NULL);
	json_t *app = json_pack("{s:s, s:s, s:s, s:n}", "package", ref, "state", state, "since",
				since, "reason");
	if (r)
		add_engine(app, r);
	report(a->c, a->id, json_pack("{s:o}", "app", app));
}

static void report_error(struct app *a, const char *ref, const char *reason)
{
	char at[TIMEFMT_RFC3339_LEN];
	now_str(at);
	log_kv(LOG_WARN, "desired app refused", "package", ref, "reason", reason, NULL);
	json_t *app =
		a->cur ? json_pack("{s:s, s:s, s:s}", "package", a->cur->ref, "state",
				   a->cur->ended ? "failed" : "running", "since", a->cur->since)
		       : json_pack("{s:s, s:s, s:s}", "package", ref, "state", "failed", "since",
				   at);
	json_object_set_new(
		app, "error",
		json_pack("{s:s, s:s, s:s}", "package", ref, "reason", reason, "at", at));
	report(a->c, a->id, json_pack("{s:o}", "app", app));
}

static void save_current(struct app *a)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/current.json", a->c->state_dir);
	json_t *j = json_pack("{s:s, s:O?}", "package", a->cur->ref, "grants", a->cur->bound);
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s || file_write_atomic(path, s, strlen(s)) < 0)
		log_kv(LOG_WARN, "cannot save the current app", "file", path, NULL);
	free(s);
	json_decref(j);
}

struct app *app_new(const struct agent_config *c, const struct agent_identity *id)
{
	struct app *a = calloc(1, sizeof(*a));
	if (a) {
		a->c = c;
		a->id = id;
	}
	return a;
}

void app_stop(struct app *a)
{
	if (a)
		running_stop(a->cur);
}

void app_free(struct app *a)
{
	if (!a)
		return;
	running_stop(a->cur);
	running_release(a->cur);
	json_decref(a->want);
	free(a);
}

/* Switches to ref with grants: 0 on success; -1 refused for good, -2 try
 * again later. Reports every step. */
static int switch_to(struct app *a, const char *ref, const json_t *bound)
{
	char dir[4096], since[TIMEFMT_RFC3339_LEN];
	const char *why = NULL;
	struct depot_manifest m = {0};
	now_str(since);
	report_state(a, ref, "downloading", since, NULL);
	int rc = package_fetch(a->c, a->id, ref, &m, dir, &why);
	if (rc == 0 && package_check_grants(&m, bound, &why) < 0)
		rc = -1;
	struct running *r = rc == 0 ? running_new(a, ref, dir, &m, bound, true, &why) : NULL;
	depot_manifest_free(&m);
	if (rc == 0 && !r)
		rc = -1;
	if (rc < 0) {
		report_error(a, ref, why);
		return rc;
	}
	report_state(a, ref, "starting", since, r);
	running_stop(a->cur);
	if (running_start(r) < 0) {
		char reason[300];
		snprintf(reason, sizeof(reason), "did not start: %s", r->why);
		running_release(r);
		if (a->cur && running_start(a->cur) == 0)
			log_kv(LOG_INFO, "rolled back", "package", a->cur->ref, NULL);
		report_error(a, ref, reason);
		return -1;
	}
	running_release(a->cur);
	a->cur = r;
	a->failures = 0;
	save_current(a);
	json_t *app = json_pack("{s:s, s:s, s:s, s:n}", "package", ref, "state", "running", "since",
				r->since, "error");
	add_engine(app, r);
	log_kv(LOG_INFO, "app", "package", ref, "state", "running", "engine",
	       r->aot ? "aot" : "interpreter", NULL);
	report(a->c, a->id, json_pack("{s:o}", "app", app));
	return 0;
}

void app_resume(struct app *a)
{
	char path[4096], dir[4096];
	snprintf(path, sizeof(path), "%s/current.json", a->c->state_dir);
	json_t *j = json_load_file(path, 0, NULL);
	const char *ref = json_string_value(json_object_get(j, "package"));
	json_t *bound = json_object_get(j, "grants");
	struct depot_manifest m = {0};
	const char *why = "no package";
	struct running *r = NULL;
	if (ref && package_dir(a->c, ref, dir) == 0) {
		if (package_verify(a->c, dir, &m, &why) == 0 &&
		    package_check_grants(&m, bound, &why) == 0)
			r = running_new(a, ref, dir, &m, bound, false, &why);
		depot_manifest_free(&m);
	}
	if (r && running_start(r) == 0) {
		log_kv(LOG_INFO, "resumed the last good app", "package", ref, NULL);
		a->cur = r;
		report_state(a, ref, "running", r->since, r);
		a->want = json_pack("{s:s, s:O?}", "package", ref, "grants", bound);
	} else if (ref) {
		log_kv(LOG_WARN, "cannot resume the last app", "package", ref, "reason",
		       r ? r->why : why, NULL);
		running_release(r);
	}
	json_decref(j);
}

void app_follow(struct app *a, const json_t *desired_app)
{
	if (!json_is_object(desired_app))
		return; /* nothing named: keep what runs */
	json_t *want = json_pack("{s:O?, s:O?}", "package", json_object_get(desired_app, "package"),
				 "grants", json_object_get(desired_app, "grants"));
	if (a->want && json_equal(want, a->want) && !a->retry_at) {
		json_decref(want);
		return;
	}
	json_decref(a->want);
	a->want = want;
	a->retry_at = 0;
	const char *ref = json_string_value(json_object_get(want, "package"));
	json_t *bound = json_object_get(want, "grants");
	if (!ref) {
		report_error(a, "", "desired.app.package is not a string");
		return;
	}
	if (json_is_null(bound))
		bound = NULL; /* no grants: the manifest's capabilities as asked */
	if (bound && !json_is_object(bound)) {
		report_error(a, ref, "desired.app.grants is not an object");
		return;
	}
	if (a->cur && !a->cur->ended && !strcmp(a->cur->ref, ref) &&
	    json_equal(a->cur->bound ? a->cur->bound : json_null(), bound ? bound : json_null())) {
		report_state(a, ref, "running", a->cur->since, a->cur);
		return;
	}
	if (switch_to(a, ref, bound) == -2)
		a->retry_at = time(NULL) + 5;
}

int app_ended(struct app *a)
{
	struct running *r = a->cur;
	if (!r || !r->ch || r->ended)
		return r && r->ended;
	if (supervisor_wait(r->ch, 0, &r->status, r->why, sizeof(r->why)) == 1) {
		r->ended = true;
		if (!r->why[0])
			snprintf(r->why, sizeof(r->why), "exited with status %d", r->status);
	}
	return r->ended;
}

/* An app interpreted because its compiled form was not there (not compiled
 * yet, Orchard unreachable) asks again, less and less often; once one
 * checks, the app is restarted compiled. */
static void aot_recheck(struct app *a, struct running *r)
{
	char dir[4200], cwasm[4200];
	const char *why = NULL;
	struct depot_manifest m = {0};
	snprintf(dir, sizeof(dir), "%s", r->wasm_path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	int rc = package_verify(a->c, dir, &m, &why) == 0
			 ? compiled_get(a->c, a->id, r->ref, dir, &m, true, cwasm, &why)
			 : -1;
	depot_manifest_free(&m);
	if (rc == -2) {
		r->aot_wait = r->aot_wait * 2 > AOT_RECHECK_MAX ? AOT_RECHECK_MAX : r->aot_wait * 2;
		r->aot_at = time(NULL) + r->aot_wait;
		return;
	}
	r->aot_at = 0;
	r->aot_wait = 0;
	if (rc < 0) {
		snprintf(r->engine_why, sizeof(r->engine_why), "%s", why ? why : "?");
		report_state(a, r->ref, "running", r->since, r);
		return;
	}
	log_kv(LOG_INFO, "compiled form ready: restarting the app compiled", "package", r->ref,
	       NULL);
	running_stop(r);
	free((char *)r->o->module_path);
	r->o->module_path = strdup(cwasm);
	r->o->allow_native = true;
	r->aot = true;
	r->engine_why[0] = '\0';
	if (running_start(r) == 0)
		report_state(a, r->ref, "running", r->since, r);
}

void app_tick(struct app *a)
{
	time_t now = time(NULL);
	if (a->cur && !a->cur->ended && a->cur->aot_at && now >= a->cur->aot_at)
		aot_recheck(a, a->cur);
	if (a->retry_at && now >= a->retry_at && a->want) {
		json_t *w = json_incref(a->want);
		app_follow(a, w);
		json_decref(w);
	}
	struct running *r = a->cur;
	if (!r || !app_ended(a))
		return;
	if (!a->restart_at) {
		if (now - r->started > 60)
			a->failures = 0;
		int b = 1 << (a->failures < 5 ? a->failures : 5);
		a->restart_at = now + (b > 30 ? 30 : b);
		a->failures++;
		log_kv(LOG_WARN, "app ended", "package", r->ref, "reason", r->why, NULL);
		char since[TIMEFMT_RFC3339_LEN];
		now_str(since);
		report(a->c, a->id,
		       json_pack("{s:{s:s, s:s, s:s, s:s}}", "app", "package", r->ref, "state",
				 "failed", "since", since, "reason", r->why));
		return;
	}
	if (now < a->restart_at)
		return;
	a->restart_at = 0;
	supervisor_free(r->ch);
	r->ch = NULL;
	if (running_start(r) == 0)
		report_state(a, r->ref, "running", r->since, r);
}

int app_next_tick(const struct app *a)
{
	time_t now = time(NULL), at = 0;
	if (a->restart_at)
		at = a->restart_at;
	if (a->retry_at && (!at || a->retry_at < at))
		at = a->retry_at;
	if (a->cur && !a->cur->ended && a->cur->aot_at && (!at || a->cur->aot_at < at))
		at = a->cur->aot_at;
	if (!at)
		return 20;
	return at <= now ? 0 : (int)(at - now < 20 ? at - now : 20);
}

int app_newly_ended(struct app *a)
{
	return a->cur && !a->cur->ended && app_ended(a);
}
