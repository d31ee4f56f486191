/* fuzz_wasm.c: libFuzzer driver feeding arbitrary bytes to the engine's
 * load + validate + limit + instantiate (with the full WASI import table). */
#include <stddef.h>
#include <stdint.h>

#include "clients/wasm/engine.h"
#include "clients/wasm/wasi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static grants g;
	char err[256];
	size_t nfuncs = 0;
	engine_module *mod = engine_module_load(data, size, err, sizeof(err));
	if (!mod)
		return 0;
	/* Small caps keep the fuzzer's memory flat; a start function could loop
	 * for ever (the interpreter has no fuel), so those are not instantiated. */
	if (engine_module_limit(mod, 16, 1024, err, sizeof(err)) == 0 &&
	    !engine_module_has_start(mod)) {
		char *argv[] = {"fuzz", NULL}, *envp[] = {NULL};
		wasi_ctx *ctx = wasi_ctx_new(argv, envp, &g);
		const engine_host_func *funcs = wasi_host_funcs(&nfuncs);
		engine_instance *inst =
			ctx ? engine_instance_new(mod, funcs, nfuncs, ctx, err, sizeof(err)) : NULL;
		engine_instance_free(inst);
		wasi_ctx_free(ctx);
	}
	engine_module_free(mod);
	return 0;
}
