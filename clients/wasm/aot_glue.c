/* aot_glue.c: compiled into every .cwasm (never into orchard-wasm): connects
 * the C that wasm2c wrote for a module to engine_aot.c through aot_abi.h.
 *
 * `orchard-wasm compile` writes a glue.c that defines aot_imports[] and the
 * AOT_* macros, includes this file, then defines one trampoline per import
 * (Z_hZ_f<N>, the names compile gave the imports). Memory bounds are explicit
 * checks in the generated code (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0); stack
 * exhaustion is the engine's SIGSEGV handler calling stack_exhausted(). */
#include <stdio.h>
#include <wasm-rt-impl.h>
#include <string.h>

/* The host side of the imports: the engine's callback and its argument. */
struct Z_h_instance_t {
	aot_host_fn fn;
	void *host;
};

typedef struct aot_inst {
	Z_app_instance_t app;
	struct Z_h_instance_t h;
	int allocated; /* Z_app_instantiate got far enough to need Z_app_free */
} aot_inst;

/* Traps beyond wasm-rt's own codes: a host function's unwind (base + the
 * engine_host_rc) and a linear memory calloc() could not give. */
#define AOT_TRAP_HOST 0x100
#define AOT_TRAP_NOMEM 0x200

/* The caps of the instantiation in progress (one at a time per process). */
static uint32_t aot_max_pages, aot_max_elems;

/* wasm-rt-impl.c is compiled with its allocators renamed to *_impl so that
 * these wrappers cap every memory and table before the start function runs. */
void wasm_rt_allocate_memory_impl(wasm_rt_memory_t *, uint32_t, uint32_t);
void wasm_rt_allocate_funcref_table_impl(wasm_rt_funcref_table_t *, uint32_t, uint32_t);

void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial, uint32_t max)
{
	if (initial > aot_max_pages)
		wasm_rt_trap((wasm_rt_trap_t)AOT_TRAP_NOMEM);
	wasm_rt_allocate_memory_impl(m, initial, max < aot_max_pages ? max : aot_max_pages);
	if (initial && !m->data)
		wasm_rt_trap((wasm_rt_trap_t)AOT_TRAP_NOMEM);
}

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t, uint32_t n, uint32_t max)
{
	if (n > aot_max_elems)
		wasm_rt_trap((wasm_rt_trap_t)AOT_TRAP_NOMEM);
	wasm_rt_allocate_funcref_table_impl(t, n, max < aot_max_elems ? max : aot_max_elems);
	if (n && !t->data)
		wasm_rt_trap((wasm_rt_trap_t)AOT_TRAP_NOMEM);
}

/* The interpreter's words for the same traps, so that both engines print the
 * same one-line reason. */
static int aot_trap_status(int code, char *msg, size_t msglen)
{
	const char *why = "trap";
	switch (code) {
	case AOT_TRAP_HOST + 1: return AOT_EXIT;
	case AOT_TRAP_HOST + 3: return AOT_STOP;
	case AOT_TRAP_HOST + 2: why = "host function trapped"; break;
	case AOT_TRAP_NOMEM: why = "out of memory for a memory or table"; break;
	case WASM_RT_TRAP_OOB: why = "out of bounds memory access"; break;
	case WASM_RT_TRAP_INT_OVERFLOW: why = "integer overflow"; break;
	case WASM_RT_TRAP_DIV_BY_ZERO: why = "integer divide by zero"; break;
	case WASM_RT_TRAP_INVALID_CONVERSION: why = "invalid conversion to integer"; break;
	case WASM_RT_TRAP_UNREACHABLE: why = "unreachable executed"; break;
	case WASM_RT_TRAP_CALL_INDIRECT:
		why = "indirect call to a missing or mismatched function";
		break;
	case WASM_RT_TRAP_EXHAUSTION: why = "call stack exhausted"; break;
	default: break;
	}
	snprintf(msg, msglen, "%s", why);
	return AOT_TRAP;
}

/* Trampoline conversions: engine.h passes i32 as a zero-extended u64 and
 * floats as their bits; the suffix is engine.h's signature letter. */
static inline uint64_t aot_to_u64_i(u32 x)
{
	return x;
}
static inline uint64_t aot_to_u64_I(u64 x)
{
	return x;
}
static inline uint64_t aot_to_u64_f(f32 x)
{
	u32 b;
	memcpy(&b, &x, sizeof(b));
	return b;
}
static inline uint64_t aot_to_u64_F(f64 x)
{
	u64 b;
	memcpy(&b, &x, sizeof(b));
	return b;
}
static inline u32 aot_from_u64_i(uint64_t x)
{
	return (u32)x;
}
static inline u64 aot_from_u64_I(uint64_t x)
{
	return x;
}
static inline f32 aot_from_u64_f(uint64_t x)
{
	u32 b = (u32)x;
	f32 f;
	memcpy(&f, &b, sizeof(f));
	return f;
}
static inline f64 aot_from_u64_F(uint64_t x)
{
	f64 f;
	memcpy(&f, &x, sizeof(f));
	return f;
}

/* What every trampoline calls; a non-zero answer unwinds the guest. */
static void aot_call(struct Z_h_instance_t *h, uint32_t idx, const uint64_t *a, uint64_t *r)
{
	int rc = h->fn(h->host, idx, a, r);
	if (rc != 0)
		wasm_rt_trap((wasm_rt_trap_t)(AOT_TRAP_HOST + rc));
}

static int aot_instantiate(void **out, aot_host_fn fn, void *host, uint32_t max_pages,
			   uint32_t max_elems, char *msg, size_t msglen)
{
	static int module_ready;
	aot_inst *inst = calloc(1, sizeof(*inst));
	*out = inst;
	if (!inst) {
		snprintf(msg, msglen, "out of memory");
		return AOT_ERROR;
	}
	if (!module_ready) {
		wasm_rt_init();
		Z_app_init_module();
		module_ready = 1;
	}
	inst->h.fn = fn;
	inst->h.host = host;
	aot_max_pages = max_pages;
	aot_max_elems = max_elems;
	inst->allocated = 1;
	int code = wasm_rt_impl_try();
	if (code != 0)
		return aot_trap_status(code, msg, msglen);
#if AOT_NIMPORTS
	Z_app_instantiate(&inst->app, &inst->h);
#else
	Z_app_instantiate(&inst->app); /* wasm2c gives it no import argument */
#endif
	return AOT_OK;
}

static int aot_start(void *p, char *msg, size_t msglen)
{
	aot_inst *inst = p;
#if AOT_HAS_START
	int code = wasm_rt_impl_try();
	if (code != 0)
		return aot_trap_status(code, msg, msglen);
	Z_appZ__start(&inst->app);
	return AOT_OK;
#else
	(void)inst;
	snprintf(msg, msglen, "%s", AOT_START_PROBLEM);
	return AOT_ERROR;
#endif
}

static uint8_t *aot_memory(void *p, uint64_t *size)
{
	aot_inst *inst = p;
#if AOT_HAS_MEMORY
	wasm_rt_memory_t *m = Z_appZ_orchard_mem0(&inst->app);
	*size = m->size;
	return m->data;
#else
	(void)inst;
	*size = 0;
	return NULL;
#endif
}

static void aot_free_instance(void *p)
{
	aot_inst *inst = p;
	if (inst && inst->allocated)
		Z_app_free(&inst->app);
	free(inst);
}

static void aot_stack_exhausted(void)
{
	wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
}

/* The one symbol the shared object exports (it is built -fvisibility=hidden). */
__attribute__((visibility("default"))) const aot_glue orchard_aot_glue = {
	.abi = AOT_ABI_VERSION,
	.nimports = sizeof(aot_imports) / sizeof(aot_imports[0]) - 1,
	.imports = aot_imports,
	.has_memory = AOT_HAS_MEMORY,
	.has_table = AOT_HAS_TABLE,
	.has_start_fn = AOT_HAS_START_FN,
	.memory_initial = AOT_MEMORY_INITIAL,
	.table_initial = AOT_TABLE_INITIAL,
	.instantiate = aot_instantiate,
	.start = aot_start,
	.memory = aot_memory,
	.free_instance = aot_free_instance,
	.stack_exhausted = aot_stack_exhausted,
	.fini = wasm_rt_free,
};
