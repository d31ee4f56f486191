/* wasi_proc.c: WASI args, environment, clocks, randomness and process
 * functions (args_*, environ_*, clock_*, random_get, proc_*, sched_yield). */
#include "clients/wasm/wasi.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Writes a pointer table at ptrs and the NUL-terminated strings at buf,
 * as args_get and environ_get both do. */
static int32_t strv_put(wasi_ctx *c, char **v, uint32_t n, uint32_t ptrs, uint32_t buf)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if (!wasi_mem(c, ptrs, (uint64_t)n * 4) || !wasi_mem(c, buf, total))
		return W_EFAULT;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		wasi_put_u32(c, ptrs + i * 4, buf);
		memcpy(wasi_mem(c, buf, len), v[i], len);
		buf += (uint32_t)len;
	}
	return W_ESUCCESS;
}

static int32_t sizes_put(wasi_ctx *c, char **v, uint32_t n, uint32_t count_ptr, uint32_t size_ptr)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if (!wasi_mem(c, count_ptr, 4) || !wasi_mem(c, size_ptr, 4))
		return W_EFAULT;
	wasi_put_u32(c, count_ptr, n);
	wasi_put_u32(c, size_ptr, (uint32_t)total);
	return W_ESUCCESS;
}

WASI_FN(args_get)
{
	return strv_put(c, c->argv, c->argc, (uint32_t)a[0], (uint32_t)a[1]);
}

WASI_FN(args_sizes_get)
{
	return sizes_put(c, c->argv, c->argc, (uint32_t)a[0], (uint32_t)a[1]);
}

WASI_FN(environ_get)
{
	return strv_put(c, c->envp, c->envc, (uint32_t)a[0], (uint32_t)a[1]);
}

WASI_FN(environ_sizes_get)
{
	return sizes_put(c, c->envp, c->envc, (uint32_t)a[0], (uint32_t)a[1]);
}

static int clock_host(uint32_t id, clockid_t *out)
{
	switch (id) {
	case CLK_REALTIME: *out = CLOCK_REALTIME; return 0;
	case CLK_MONOTONIC: *out = CLOCK_MONOTONIC; return 0;
	case CLK_PROCESS_CPUTIME: *out = CLOCK_PROCESS_CPUTIME_ID; return 0;
	case CLK_THREAD_CPUTIME: *out = CLOCK_THREAD_CPUTIME_ID; return 0;
	default: return -1;
	}
}

WASI_FN(clock_res_get)
{
	clockid_t id;
	struct timespec ts;
	if (clock_host((uint32_t)a[0], &id) < 0)
		return W_EINVAL;
	if (clock_getres(id, &ts) < 0)
		return wasi_errno(errno);
	return wasi_put_u64(c, (uint32_t)a[1],
			    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

WASI_FN(clock_time_get)
{
	/* a[1] is the precision the guest tolerates; Linux clocks are exact enough. */
	clockid_t id;
	struct timespec ts;
	if (clock_host((uint32_t)a[0], &id) < 0)
		return W_EINVAL;
	if (clock_gettime(id, &ts) < 0)
		return wasi_errno(errno);
	return wasi_put_u64(c, (uint32_t)a[2],
			    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

WASI_FN(random_get)
{
	uint32_t len = (uint32_t)a[1];
	uint8_t *p = wasi_mem(c, (uint32_t)a[0], len);
	if (!p)
		return W_EFAULT;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return wasi_errno(errno);
		}
		p += n;
		len -= (uint32_t)n;
	}
	return W_ESUCCESS;
}

WASI_FN(sched_yield)
{
	(void)c;
	(void)a;
	sched_yield();
	return W_ESUCCESS;
}

/* Like wasmtime, signals are not delivered to a guest: there is no handler to
 * run, and raising it on the host would kill the runtime instead. */
WASI_FN(proc_raise)
{
	(void)c;
	(void)a;
	return W_ENOTSUP;
}

/* proc_exit never returns to the guest: the engine unwinds with ENGINE_EXIT
 * and the runtime exits with the code. */
static int proc_exit_host(void *user, engine_call *call, const uint64_t *a, uint64_t *r)
{
	wasi_ctx *c = user;
	(void)call;
	(void)r;
	c->exit_code = (uint32_t)a[0];
	c->exited = true;
	return ENGINE_HOST_EXIT;
}

const engine_host_func wasi_proc_funcs[] = {
	WASI_ENTRY(args_get, "ii"),
	WASI_ENTRY(args_sizes_get, "ii"),
	WASI_ENTRY(environ_get, "ii"),
	WASI_ENTRY(environ_sizes_get, "ii"),
	WASI_ENTRY(clock_res_get, "ii"),
	WASI_ENTRY(clock_time_get, "iIi"),
	WASI_ENTRY(random_get, "ii"),
	WASI_ENTRY(sched_yield, ""),
	WASI_ENTRY(proc_raise, "i"),
	{"wasi_snapshot_preview1", "proc_exit", "i", "", proc_exit_host},
};
const size_t wasi_proc_nfuncs = sizeof(wasi_proc_funcs) / sizeof(wasi_proc_funcs[0]);
