/* engine_impl.h: what each engine behind engine.h provides (curl's vtls
 * model): one table of operations, and the handles engine.c passes around. */
#ifndef ORCHARD_WASM_ENGINE_IMPL_H
#define ORCHARD_WASM_ENGINE_IMPL_H

#include "clients/wasm/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One engine. Every function takes and returns the engine's own handles
 * (impl); engine.c wraps them with the ops that made them. */
typedef struct engine_ops {
	const char *name;
	void (*module_free)(void *mod);
	int (*module_limit)(void *mod, uint64_t max_pages, uint64_t max_elems, char *err,
			    size_t errlen);
	int (*module_has_start)(const void *mod);
	void *(*instance_new)(void *mod, const engine_host_func *funcs, size_t nfuncs, void *user,
			      char *err, size_t errlen);
	int (*instance_run)(void *inst, const char *name, char *msg, size_t msglen);
	void (*instance_stop)(void *inst);
	void (*instance_free)(void *inst);
} engine_ops;

/* What a host function receives: the engine's way to reach guest memory. */
struct engine_call {
	uint8_t *(*memory)(engine_call *call, uint64_t *size);
	void *impl;
};

/* The interpreter (engine_wabt.cc) and the compiled-module loader
 * (engine_aot.c). load returns the engine's module handle or NULL with err. */
extern const engine_ops engine_wabt_ops;
void *engine_wabt_load(const uint8_t *bytes, size_t len, char *err, size_t errlen);
extern const engine_ops engine_aot_ops;
void *engine_aot_load(const uint8_t *bytes, size_t len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
