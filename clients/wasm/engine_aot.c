/* engine_aot.c: engine.h for compiled modules (.cwasm): checks the file, maps
 * its shared object, links its imports to the same host functions, runs it.
 *
 * Memory bounds are explicit checks in the compiled code (wasm2c's
 * RANGE_CHECK), not guard pages: guard pages need 8 GiB of address space per
 * memory, which RLIMIT_AS (twice the guest memory plus 512 MiB) forbids, and
 * they would turn every SIGSEGV of the host into a guest trap. The stack is
 * the exception: guest recursion runs on the native stack, and a SIGSEGV just
 * below it while guest code (not a host function) runs is "call stack
 * exhausted"; any other fault keeps its default action (SA_RESETHAND). */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clients/wasm/aot_abi.h"
#include "clients/wasm/cwasm.h"
#include "clients/wasm/engine_impl.h"

typedef struct aot_module {
	void *so;
	const aot_glue *glue;
	uint64_t max_pages, max_elems;
} aot_module;

typedef struct aot_instance {
	aot_module *mod;
	void *inst;		       /* the glue's */
	const engine_host_func **host; /* per import */
	void *user;
	volatile sig_atomic_t stop;
} aot_instance;

/* The guest running now (one at a time per process) and where its stack
 * begins, for the SIGSEGV handler. */
static const aot_glue *volatile running;
static volatile sig_atomic_t in_host;
static uintptr_t stack_top;
static uintptr_t stack_span;
static volatile sig_atomic_t handler_armed;
static char alt_stack[64 * 1024];

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	uintptr_t a = (uintptr_t)si->si_addr;
	handler_armed = 0; /* SA_RESETHAND put back the default action */
	if (running && !in_host && a < stack_top && stack_top - a < stack_span)
		running->stack_exhausted(); /* does not return */
	/* Not the guest's stack: returning re-runs the faulting instruction,
	 * which now gets the default action (a core-less death, 139). */
}

/* Installs the handler (again, after it fired). Outside the sandbox only:
 * load arms it, and a trap ends a sandboxed run anyway. */
static int handler_arm(void)
{
	if (handler_armed)
		return 0;
	stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof(alt_stack)};
	struct sigaction sa = {0};
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	if (sigaltstack(&ss, NULL) < 0 || sigaction(SIGSEGV, &sa, NULL) < 0)
		return -1;
	struct rlimit rl;
	stack_span = 64u << 20;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		stack_span = (uintptr_t)rl.rlim_cur + (1u << 20);
	handler_armed = 1;
	return 0;
}

/* Maps the shared object from memory: a memfd, opened by dlopen through
 * /proc/self/fd (glibc has no fdlopen). */
static void *so_open(const uint8_t *so, size_t len, char *err, size_t errlen)
{
	void *h = NULL;
	char path[64];
	int fd = memfd_create("orchard-cwasm", MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, so + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "memfd write: %s", strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		snprintf(err, errlen, "compiled module: %s", dlerror());
out:
	if (fd >= 0)
		close(fd);
	return h;
}

void *engine_aot_load(const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
	cwasm_info info;
	aot_module *m = NULL;
	if (cwasm_open(bytes, len, &info, err, errlen) < 0)
		goto fail;
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m->so = so_open(info.payload, info.payload_len, err, errlen);
	if (!m->so)
		goto fail;
	m->glue = dlsym(m->so, AOT_GLUE_SYMBOL);
	if (!m->glue || m->glue->abi != AOT_ABI_VERSION) {
		snprintf(err, errlen, "compiled module: no glue of abi %u", AOT_ABI_VERSION);
		goto fail;
	}
	if (handler_arm() < 0) {
		snprintf(err, errlen, "sigaction: %s", strerror(errno));
		goto fail;
	}
	m->max_pages = 65536;
	m->max_elems = UINT32_MAX;
	return m;
fail:
	if (m && m->so)
		dlclose(m->so);
	free(m);
	return NULL;
}

static void module_free(void *p)
{
	aot_module *m = p;
	if (!m)
		return;
	m->glue->fini();
	dlclose(m->so);
	free(m);
}

static int module_limit(void *p, uint64_t max_pages, uint64_t max_elems, char *err, size_t errlen)
{
	aot_module *m = p;
	const aot_glue *g = m->glue;
	if (g->has_memory && g->memory_initial > max_pages) {
		snprintf(err, errlen,
			 "memory declares %u initial pages, more than the limit of %llu",
			 g->memory_initial, (unsigned long long)max_pages);
		return -1;
	}
	if (g->has_table && g->table_initial > max_elems) {
		snprintf(err, errlen,
			 "table declares %u initial elements, more than the limit of %llu",
			 g->table_initial, (unsigned long long)max_elems);
		return -1;
	}
	m->max_pages = max_pages < 65536 ? max_pages : 65536;
	m->max_elems = max_elems < UINT32_MAX ? max_elems : UINT32_MAX;
	return 0;
}

static int module_has_start(const void *p)
{
	return ((const aot_module *)p)->glue->has_start_fn;
}

static uint8_t *call_memory(engine_call *call, uint64_t *size)
{
	aot_instance *ai = call->impl;
	*size = 0;
	return ai->inst ? ai->mod->glue->memory(ai->inst, size) : NULL;
}

/* aot_host_fn: every import of the guest comes through here. */
static int host_call(void *p, uint32_t idx, const uint64_t *args, uint64_t *results)
{
	aot_instance *ai = p;
	if (ai->stop)
		return 3; /* the glue unwinds it as AOT_STOP */
	engine_call call = {call_memory, ai};
	in_host = 1;
	int rc = ai->host[idx]->fn(ai->user, &call, args, results);
	in_host = 0;
	return rc;
}

/* Runs one glue entry point with the SIGSEGV handler knowing it. */
static int guarded(aot_instance *ai, int (*fn)(aot_instance *, char *, size_t), char *msg,
		   size_t msglen)
{
	char here;
	const aot_glue *prev = running;
	uintptr_t prev_top = stack_top;
	stack_top = (uintptr_t)&here;
	running = ai->mod->glue;
	in_host = 0;
	int rc = fn(ai, msg, msglen);
	running = prev;
	stack_top = prev_top;
	return rc;
}

static int do_instantiate(aot_instance *ai, char *msg, size_t msglen)
{
	return ai->mod->glue->instantiate(&ai->inst, host_call, ai, (uint32_t)ai->mod->max_pages,
					  (uint32_t)ai->mod->max_elems, msg, msglen);
}

static int do_start(aot_instance *ai, char *msg, size_t msglen)
{
	return ai->mod->glue->start(ai->inst, msg, msglen);
}

static void instance_free(void *p)
{
	aot_instance *ai = p;
	if (!ai)
		return;
	if (ai->inst)
		ai->mod->glue->free_instance(ai->inst);
	free(ai->host);
	free(ai);
}

static int sig_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void *instance_new(void *p, const engine_host_func *funcs, size_t nfuncs, void *user,
			  char *err, size_t errlen)
{
	aot_module *m = p;
	const aot_glue *g = m->glue;
	aot_instance *ai = calloc(1, sizeof(*ai));
	if (!ai || !(ai->host = calloc(g->nimports + 1, sizeof(*ai->host)))) {
		snprintf(err, errlen, "out of memory while instantiating the module");
		goto fail;
	}
	ai->mod = m;
	ai->user = user;
	for (uint32_t i = 0; i < g->nimports; i++) {
		const aot_import *imp = &g->imports[i];
		for (size_t j = 0; j < nfuncs && !ai->host[i]; j++)
			if (!strcmp(funcs[j].module, imp->module) &&
			    !strcmp(funcs[j].name, imp->name) &&
			    sig_eq(funcs[j].params, imp->params) &&
			    sig_eq(funcs[j].results, imp->results))
				ai->host[i] = &funcs[j];
		if (!ai->host[i]) {
			snprintf(
				err, errlen,
				"unknown import: function %s.%s (or its signature) is not provided "
				"by orchard-wasm",
				imp->module, imp->name);
			goto fail;
		}
	}
	char msg[256] = "";
	if (guarded(ai, do_instantiate, msg, sizeof(msg)) != AOT_OK) {
		snprintf(err, errlen, "instantiation failed: %s", msg[0] ? msg : "stopped");
		goto fail;
	}
	return ai;
fail:
	instance_free(ai);
	return NULL;
}

static int instance_run(void *p, const char *name, char *msg, size_t msglen)
{
	aot_instance *ai = p;
	if (strcmp(name, "_start") != 0) {
		/* compile keeps only _start callable */
		snprintf(msg, msglen, "no exported function %s", name);
		return ENGINE_ERROR;
	}
	if (handler_arm() < 0) {
		snprintf(msg, msglen, "sigaction: %s", strerror(errno));
		return ENGINE_ERROR;
	}
	return guarded(ai, do_start, msg, msglen);
}

static void instance_stop(void *p)
{
	((aot_instance *)p)->stop = 1;
}

const engine_ops engine_aot_ops = {
	.name = "compiled",
	.module_free = module_free,
	.module_limit = module_limit,
	.module_has_start = module_has_start,
	.instance_new = instance_new,
	.instance_run = instance_run,
	.instance_stop = instance_stop,
	.instance_free = instance_free,
};
