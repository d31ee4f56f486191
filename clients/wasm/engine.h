/* engine.h: the narrow C interface between Orchard's WASI host and a
 * WebAssembly engine: the wabt interpreter, or compiled code (engine_aot.c). */
#ifndef ORCHARD_WASM_ENGINE_H
#define ORCHARD_WASM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct engine_module engine_module;
typedef struct engine_instance engine_instance;
typedef struct engine_call engine_call;

/* Results of engine_instance_run(). */
enum engine_status {
	ENGINE_OK = 0,	  /* the export returned */
	ENGINE_TRAP = 1,  /* the guest trapped; the message says why */
	ENGINE_EXIT = 2,  /* a host function asked to end the guest (proc_exit) */
	ENGINE_STOP = 3,  /* engine_instance_stop() was honoured */
	ENGINE_ERROR = 4, /* no such export, or a wrong signature */
};

/* What a host function returns: continue, or end the guest now. */
enum engine_host_rc {
	ENGINE_HOST_CONTINUE = 0,
	ENGINE_HOST_EXIT = 1, /* proc_exit: unwinds as ENGINE_EXIT */
	ENGINE_HOST_TRAP = 2, /* unwinds as ENGINE_TRAP */
};

/* A host function. args/results hold i32 as zero-extended u32 and i64 as u64.
 * It may read guest memory through engine_call_memory() for this call only. */
typedef int (*engine_host_fn)(void *user, engine_call *call, const uint64_t *args,
			      uint64_t *results);

/* One importable function. params/results spell value types: 'i' i32, 'I' i64,
 * 'f' f32, 'F' f64. Two entries may share a name with different signatures;
 * the one whose signature matches the import is used. */
typedef struct engine_host_func {
	const char *module;
	const char *name;
	const char *params;
	const char *results;
	engine_host_fn fn;
} engine_host_func;

/* Decodes and validates bytes (copied; the caller keeps them). Returns NULL
 * and a message in err on failure. */
engine_module *engine_module_load(const uint8_t *bytes, size_t len, char *err, size_t errlen);
/* Does bytes begin like a compiled module (.cwasm)? Magic only: it says
 * nothing of the file's integrity. */
int engine_module_is_native(const uint8_t *bytes, size_t len);
/* Loads a compiled module made by `orchard-wasm compile`. It is native code,
 * trusted like a binary: only a caller that trusts the file may call this
 * (engine_module_load never accepts one). The digest over the whole file and
 * the recorded versions are checked before any byte of it is mapped; it maps
 * the code through /proc/self/fd, so it must run before the sandbox. */
engine_module *engine_module_load_native(const uint8_t *bytes, size_t len, char *err,
					 size_t errlen);
/* NULL-safe. */
void engine_module_free(engine_module *mod);
/* Caps every memory at max_pages (64 KiB each) and every table at max_elems:
 * memory.grow beyond them fails inside the guest. Returns -1 and a message when
 * a declared initial size already exceeds a cap. */
int engine_module_limit(engine_module *mod, uint64_t max_pages, uint64_t max_elems, char *err,
			size_t errlen);

/* Does the module declare a start function (which instantiation runs)? */
int engine_module_has_start(const engine_module *mod);

/* Links the module's imports against funcs (looked up by module, name and
 * signature) and runs its start function. user is passed to every host
 * function. Returns NULL with a message naming the first missing import or the
 * start function's trap. The module must outlive the instance. */
engine_instance *engine_instance_new(engine_module *mod, const engine_host_func *funcs,
				     size_t nfuncs, void *user, char *err, size_t errlen);
/* Calls the exported function name (no parameters, results ignored). */
int engine_instance_run(engine_instance *inst, const char *name, char *msg, size_t msglen);
/* Asks a running guest to stop. Async-signal-safe; honoured at the next host
 * call (neither engine has fuel): the supervisor's kill is the hard stop. */
void engine_instance_stop(engine_instance *inst);
/* NULL-safe. */
void engine_instance_free(engine_instance *inst);

/* The calling instance's memory 0, valid until the host function returns;
 * NULL with *size 0 when the module has no memory. */
uint8_t *engine_call_memory(engine_call *call, uint64_t *size);

#ifdef __cplusplus
}
#endif
#endif
