/* Unit tests for clients/wasm: grant parsing and checks, guest-memory bounds,
 * errno mapping, and the engine's limits on untrusted modules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "clients/wasm/aot_abi.h"
#include "clients/wasm/aot_compile.h"
#include "clients/wasm/cwasm.h"
#include "clients/wasm/engine.h"
#include "clients/wasm/grants.h"
#include "clients/wasm/runner.h"
#include "clients/wasm/supervisor.h"
#include "clients/wasm/wasi.h"
#include "common/file.h"
#include "common/target.h"

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

static void test_grants_listen_parse(void **state)
{
	static grants g;
	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(grants_add_listen(&g, "8080"), 0);
	assert_int_equal(grants_add_listen(&g, "127.0.0.1:9090"), 0);
	assert_int_equal(grants_add_listen(&g, "[::1]:7070"), 0);
	assert_int_equal(grants_add_listen(&g, "65536"), -1);
	assert_int_equal(grants_add_listen(&g, "-1"), -1);
	assert_int_equal(grants_add_listen(&g, "80x"), -1);
	assert_int_equal(grants_add_listen(&g, ""), -1);
	assert_int_equal(grants_add_listen(&g, "example.com:80"), -1); /* never resolved */
	assert_int_equal(grants_add_listen(&g, ":80"), -1);
	assert_int_equal(g.nlisten, 3);
}

static void test_grants_bind_checks(void **state)
{
	static grants g;
	(void)state;
	memset(&g, 0, sizeof(g));
	grants_add_listen(&g, "8080");
	grants_add_listen(&g, "127.0.0.1:9090");
	struct sockaddr_in a = v4("0.0.0.0", 8080), b = v4("127.0.0.1", 9090),
			   c = v4("10.0.0.1", 9090), d = v4("127.0.0.1", 8081);
	assert_true(grants_check_bind(&g, (struct sockaddr *)&a));
	assert_true(grants_check_bind(&g, (struct sockaddr *)&b));
	assert_false(grants_check_bind(&g, (struct sockaddr *)&c));    /* address pinned */
	assert_false(grants_check_bind(&g, (struct sockaddr *)&d));    /* port not granted */
	assert_false(grants_check_connect(&g, (struct sockaddr *)&b)); /* listen is not connect */
	assert_true(grants_any(&g));
}

static void test_grants_connect(void **state)
{
	static grants g;
	char err[128];
	(void)state;
	memset(&g, 0, sizeof(g));
	assert_false(grants_any(&g));
	assert_int_equal(grants_add_connect(&g, "127.0.0.1:443", err, sizeof(err)), 0);
	assert_int_equal(grants_add_connect(&g, "127.0.0.1", err, sizeof(err)), -1);
	assert_int_equal(grants_add_connect(&g, "127.0.0.1:99999", err, sizeof(err)), -1);
	struct sockaddr_in ok = v4("127.0.0.1", 443), port = v4("127.0.0.1", 444),
			   host = v4("127.0.0.2", 443);
	assert_true(grants_check_connect(&g, (struct sockaddr *)&ok));
	assert_false(grants_check_connect(&g, (struct sockaddr *)&port));
	assert_false(grants_check_connect(&g, (struct sockaddr *)&host));
	assert_false(grants_check_bind(&g, (struct sockaddr *)&ok));
}

static void test_wasi_mem_bounds(void **state)
{
	static grants g;
	uint8_t mem[64];
	char *argv[] = {"x", NULL}, *envp[] = {NULL};
	(void)state;
	wasi_ctx *c = wasi_ctx_new(argv, envp, &g);
	assert_non_null(c);
	c->mem = mem;
	c->mem_size = sizeof(mem);
	assert_ptr_equal(wasi_mem(c, 0, 64), mem);
	assert_ptr_equal(wasi_mem(c, 64, 0), mem + 64); /* empty range at the end */
	assert_null(wasi_mem(c, 60, 5));
	assert_null(wasi_mem(c, 65, 0));
	assert_null(wasi_mem(c, 1, UINT64_MAX)); /* no wrap-around */
	assert_null(wasi_mem(c, UINT64_MAX, 2));
	assert_int_equal(wasi_put_u32(c, 60, 7), W_ESUCCESS);
	assert_int_equal(wasi_put_u32(c, 61, 7), W_EFAULT);
	assert_int_equal(wasi_put_u64(c, 57, 7), W_EFAULT);
	char *s = NULL;
	memcpy(mem, "ab\0cd", 5);
	assert_int_equal(wasi_str(c, 0, 5, &s), W_EILSEQ); /* an embedded NUL */
	assert_null(s);
	assert_int_equal(wasi_str(c, 0, 2, &s), W_ESUCCESS);
	assert_string_equal(s, "ab");
	free(s);
	assert_int_equal(wasi_str(c, 63, 2, &s), W_EFAULT);
	c->mem = NULL; /* a module without memory */
	c->mem_size = 0;
	assert_null(wasi_mem(c, 0, 0));
	wasi_ctx_free(c);
	wasi_ctx_free(NULL);
}

static void test_wasi_errno_map(void **state)
{
	(void)state;
	assert_int_equal(wasi_errno(0), W_ESUCCESS);
	assert_int_equal(wasi_errno(ENOENT), 44);
	assert_int_equal(wasi_errno(EACCES), 2);
	assert_int_equal(wasi_errno(EXDEV), 75);
	assert_int_equal(wasi_errno(EOPNOTSUPP), W_ENOTSUP);
	assert_int_equal(wasi_errno(12345), W_EIO);
	assert_int_equal(W_ENOTCAPABLE, 76);
}

static void test_wasi_fd_table(void **state)
{
	static grants g;
	char *argv[] = {"x", NULL}, *envp[] = {"A=1", NULL};
	int32_t err;
	(void)state;
	wasi_ctx *c = wasi_ctx_new(argv, envp, &g);
	assert_non_null(c);
	assert_int_equal(c->envc, 1);
	assert_null(wasi_fd_get(c, 3, 0, &err));
	assert_int_equal(err, W_EBADF);
	assert_null(wasi_fd_get(c, UINT32_MAX, 0, &err));
	assert_int_equal(err, W_EBADF);
	assert_int_equal(wasi_ctx_preopen(c, "/tmp", "/t"), 0);
	assert_non_null(wasi_fd_get(c, 3, R_PATH_OPEN, &err));
	assert_null(wasi_fd_get(c, 3, R_FD_WRITE, &err)); /* a folder cannot be written */
	assert_int_equal(err, W_ENOTCAPABLE);
	assert_int_equal(wasi_ctx_preopen(c, "/nonexistent-orchard", "/n"), -1);
	wasi_ctx_free(c);
}

/* The smallest valid module, and the same declaring 65536 pages (4 GiB). */
static const uint8_t mod_empty[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
static const uint8_t mod_mem[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 5, 5, 1, 0, 0x80, 0x80, 0x04};

static void test_engine_limits(void **state)
{
	char err[256];
	(void)state;
	engine_module *m = engine_module_load(mod_empty, sizeof(mod_empty), err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(engine_module_has_start(m), 0);
	engine_module_free(m);
	engine_module_free(NULL);
	engine_instance_free(NULL);
	assert_null(engine_module_load(mod_empty, 4, err, sizeof(err)));
	assert_null(engine_module_load((const uint8_t *)"\0asm\2\0\0\0", 8, err, sizeof(err)));
	m = engine_module_load(mod_mem, sizeof(mod_mem), err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(engine_module_limit(m, 4096, 1024, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "65536 initial pages"));
	engine_module_free(m);
}

/* (import "env" "tick" (func)) (func (export "_start") (loop (call 0) (br 0))) */
static const uint8_t mod_tick[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, /* header */
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00,		/* type () -> () */
	0x02, 0x0c, 0x01, 0x03, 'e',  'n',  'v',  0x04, 't',  'i',  'c',  'k',	0x00,
	0x00,									      /* import */
	0x03, 0x02, 0x01, 0x00,							      /* function */
	0x07, 0x0a, 0x01, 0x06, '_',  's',  't',  'a',	'r',  't',  0x00, 0x01,	      /* export */
	0x0a, 0x0b, 0x01, 0x09, 0x00, 0x03, 0x40, 0x10, 0x00, 0x0c, 0x00, 0x0b, 0x0b, /* code */
};

typedef struct tick_state {
	engine_instance *inst;
	int calls;
	int action; /* 0: stop after 100 calls, 1: exit, 2: trap */
} tick_state;

static int tick(void *user, engine_call *call, const uint64_t *args, uint64_t *results)
{
	tick_state *t = user;
	uint64_t size = 1;
	(void)args;
	(void)results;
	assert_null(engine_call_memory(call, &size)); /* this module has no memory */
	assert_int_equal(size, 0);
	if (++t->calls == 100 && t->action == 0)
		engine_instance_stop(t->inst);
	if (t->action == 1 && t->calls == 3)
		return ENGINE_HOST_EXIT;
	if (t->action == 2 && t->calls == 5)
		return ENGINE_HOST_TRAP;
	return ENGINE_HOST_CONTINUE;
}

/* Host calls through either engine: a signature mismatch is an unknown
 * import; stop (honoured before the next host call), proc_exit and a host
 * trap end the guest with their statuses. */
static void host_calls_check(engine_module *m, const engine_host_func *funcs,
			     const engine_host_func *wrong, const char *import)
{
	char err[256];
	tick_state t0 = {0};
	assert_null(engine_instance_new(m, wrong, 1, &t0, err, sizeof(err)));
	assert_non_null(strstr(err, import));
	const int want[] = {ENGINE_STOP, ENGINE_EXIT, ENGINE_TRAP};
	const int calls[] = {100, 3, 5}; /* a stop is honoured before the next host call runs */
	for (int action = 0; action < 3; action++) {
		tick_state t = {.action = action};
		t.inst = engine_instance_new(m, funcs, 1, &t, err, sizeof(err));
		assert_non_null(t.inst);
		assert_int_equal(engine_instance_run(t.inst, "_start", err, sizeof(err)),
				 want[action]);
		assert_int_equal(t.calls, calls[action]);
		assert_int_equal(engine_instance_run(t.inst, "nope", err, sizeof(err)),
				 ENGINE_ERROR);
		engine_instance_free(t.inst);
	}
}

static void test_engine_host_calls(void **state)
{
	char err[256];
	const engine_host_func funcs[] = {{"env", "tick", "", "", tick}};
	const engine_host_func wrong[] = {{"env", "tick", "i", "", tick}};
	(void)state;
	engine_module *m = engine_module_load(mod_tick, sizeof(mod_tick), err, sizeof(err));
	assert_non_null(m);
	host_calls_check(m, funcs, wrong, "env.tick");
	engine_module_free(m);
}

/* (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
 * (func (export "_start") (loop (drop (call 0)) (br 0))): compile imports
 * only what WASI provides, so the compiled twin of mod_tick yields. */
static const uint8_t mod_yield[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x60, 0x00, 0x01, 0x7f,
	0x60, 0x00, 0x00, 0x02, 0x26, 0x01, 0x16, 'w',	'a',  's',  'i',  '_',	's',  'n',  'a',
	'p',  's',  'h',  'o',	't',  '_',  'p',  'r',	'e',  'v',  'i',  'e',	'w',  '1',  0x0b,
	's',  'c',  'h',  'e',	'd',  '_',  'y',  'i',	'e',  'l',  'd',  0x00, 0x00, 0x03, 0x02,
	0x01, 0x01, 0x07, 0x0a, 0x01, 0x06, '_',  's',	't',  'a',  'r',  't',	0x00, 0x01, 0x0a,
	0x0c, 0x01, 0x0a, 0x00, 0x03, 0x40, 0x10, 0x00, 0x1a, 0x0c, 0x00, 0x0b, 0x0b,
};

/* The same host-call contract through the compiled engine: compile (with the
 * system cc) to a temporary .cwasm, load it native, check. */
static void test_engine_aot_host_calls(void **state)
{
	char err[1024], in[] = "/tmp/orchard-aot-unit.XXXXXX", out[64];
	const engine_host_func funcs[] = {{"wasi_snapshot_preview1", "sched_yield", "", "i", tick}};
	const engine_host_func wrong[] = {{"wasi_snapshot_preview1", "sched_yield", "", "", tick}};
	size_t len = 0;
	(void)state;
	int fd = mkstemp(in);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, mod_yield, sizeof(mod_yield)), (ssize_t)sizeof(mod_yield));
	close(fd);
	snprintf(out, sizeof(out), "%s.cwasm", in);
	int rc = aot_compile(in, out, NULL, 1, err, sizeof(err));
	if (rc != 0)
		fail_msg("compile: %s", err);
	char *bytes = file_read(out, 1u << 26, &len);
	assert_non_null(bytes);
	unlink(in);
	unlink(out);
	engine_module *m = engine_module_load_native((uint8_t *)bytes, len, err, sizeof(err));
	if (!m)
		fail_msg("load: %s", err);
	assert_int_equal(engine_module_has_start(m), 0);
	host_calls_check(m, funcs, wrong, "wasi_snapshot_preview1.sched_yield");
	engine_module_free(m);
	free(bytes);
}

static int child_exit3(void *arg)
{
	(void)arg;
	return 3;
}

static int child_sleep(void *arg)
{
	(void)arg;
	sleep(30);
	return 0;
}

static void test_supervisor_api(void **state)
{
	char why[200];
	int status = -1;
	supervisor_opts none = {0}, budget = {.timeout_ms = 100};
	(void)state;
	supervisor_child *ch = supervisor_spawn(child_exit3, NULL, &none);
	assert_non_null(ch);
	assert_true(supervisor_pid(ch) > 0);
	assert_int_equal(supervisor_wait(ch, -1, &status, why, sizeof(why)), 1);
	assert_int_equal(status, 3);
	assert_string_equal(why, "");
	supervisor_free(ch);

	ch = supervisor_spawn(child_sleep, NULL, &none);
	assert_non_null(ch);
	assert_int_equal(supervisor_wait(ch, 50, &status, why, sizeof(why)), 0); /* still running */
	/* A grace long enough for SIGTERM to land under valgrind on a busy machine
	 * (with 100 ms it was once SIGKILL's 137): a sleeping child ends at once. */
	supervisor_stop(ch, 5000);
	assert_int_equal(supervisor_wait(ch, -1, &status, why, sizeof(why)), 1);
	assert_int_equal(status, 128 + 15);
	assert_non_null(strstr(why, "stopped by"));
	supervisor_free(ch);

	ch = supervisor_spawn(child_sleep, NULL, &budget);
	assert_non_null(ch);
	assert_int_equal(supervisor_wait(ch, -1, &status, why, sizeof(why)), 1);
	assert_int_equal(status, RUNNER_EXIT_BUDGET);
	assert_non_null(strstr(why, "wall-clock budget of 0.1 s exceeded"));
	supervisor_free(ch);

	ch = supervisor_spawn(child_sleep, NULL, &none);
	assert_non_null(ch);
	supervisor_free(ch); /* kills a running child */
	supervisor_free(NULL);
}

/* The .cwasm container: what it records, and every way it is refused before
 * a byte of its payload is mapped. */
static void test_cwasm_container(void **state)
{
	(void)state;
	static const uint8_t payload[] = "not really a shared object";
	cwasm_info in = {
		.abi = AOT_ABI_VERSION, .payload = payload, .payload_len = sizeof(payload)};
	cwasm_info out;
	char err[256];
	uint8_t *file = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	snprintf(in.module_sha256, sizeof(in.module_sha256), "%064d", 0);
	snprintf(in.wabt, sizeof(in.wabt), "%s", cwasm_wabt_version());
	snprintf(in.target, sizeof(in.target), "%s", target_host());
	snprintf(in.cc, sizeof(in.cc), "cc 1");
	snprintf(in.flags, sizeof(in.flags), "-O2");
	assert_int_equal(cwasm_build(&in, &file, &len, err, sizeof(err)), 0);
	assert_int_equal(cwasm_build(&in, &again, &len2, err, sizeof(err)), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(file, again, len); /* same inputs, same bytes */
	assert_true(cwasm_is(file, len));
	assert_true(engine_module_is_native(file, len));
	assert_int_equal(cwasm_open(file, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.payload_len, sizeof(payload));
	assert_memory_equal(out.payload, payload, sizeof(payload));
	assert_string_equal(out.cc, "cc 1");
	/* The interpreter's loader never takes one (native code is opt-in). */
	assert_null(engine_module_load(file, len, err, sizeof(err)));
	/* Every truncation, and a flip of every 97th byte, breaks the digest. */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(cwasm_open(file, n, &out, err, sizeof(err)), -1);
	for (size_t i = 0; i < len; i += 97) {
		file[i] ^= 1;
		assert_int_equal(cwasm_open(file, len, &out, err, sizeof(err)), -1);
		file[i] ^= 1;
	}
	free(file);
	/* A digest that holds over the wrong ABI, wabt or target: refused. */
	cwasm_info bad = in;
	bad.abi = AOT_ABI_VERSION + 1;
	assert_int_equal(cwasm_build(&bad, &file, &len, err, sizeof(err)), 0);
	assert_int_equal(cwasm_open(file, len, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "compile it again"));
	free(file);
	bad = in;
	snprintf(bad.target, sizeof(bad.target), "riscv64-linux-gnu");
	assert_int_equal(cwasm_build(&bad, &file, &len, err, sizeof(err)), 0);
	assert_int_equal(engine_module_load_native(file, len, err, sizeof(err)) == NULL, 1);
	free(file);
	/* A good container whose payload is not a shared object: dlopen says no. */
	assert_int_equal(cwasm_build(&in, &file, &len, err, sizeof(err)), 0);
	assert_null(engine_module_load_native(file, len, err, sizeof(err)));
	assert_non_null(strstr(err, "compiled module"));
	free(file);
	free(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grants_listen_parse),
		cmocka_unit_test(test_grants_bind_checks),
		cmocka_unit_test(test_grants_connect),
		cmocka_unit_test(test_wasi_mem_bounds),
		cmocka_unit_test(test_wasi_errno_map),
		cmocka_unit_test(test_wasi_fd_table),
		cmocka_unit_test(test_engine_limits),
		cmocka_unit_test(test_engine_host_calls),
		cmocka_unit_test(test_engine_aot_host_calls),
		cmocka_unit_test(test_supervisor_api),
		cmocka_unit_test(test_cwasm_container),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
