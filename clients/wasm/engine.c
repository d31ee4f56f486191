/* engine.c: engine.h's entry points, passed on to the engine that made each
 * handle: the wabt interpreter for WebAssembly, engine_aot.c for a .cwasm. */
#include "clients/wasm/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/wasm/cwasm.h"
#include "clients/wasm/engine_impl.h"

struct engine_module {
	const engine_ops *ops;
	void *impl;
};

struct engine_instance {
	const engine_ops *ops;
	void *impl;
};

static engine_module *module_wrap(const engine_ops *ops, void *impl, char *err, size_t errlen)
{
	engine_module *mod = NULL;
	if (!impl)
		return NULL;
	mod = malloc(sizeof(*mod));
	if (!mod) {
		ops->module_free(impl);
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mod->ops = ops;
	mod->impl = impl;
	return mod;
}

engine_module *engine_module_load(const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
	return module_wrap(&engine_wabt_ops, engine_wabt_load(bytes, len, err, errlen), err,
			   errlen);
}

int engine_module_is_native(const uint8_t *bytes, size_t len)
{
	return cwasm_is(bytes, len);
}

engine_module *engine_module_load_native(const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
	return module_wrap(&engine_aot_ops, engine_aot_load(bytes, len, err, errlen), err, errlen);
}

void engine_module_free(engine_module *mod)
{
	if (!mod)
		return;
	mod->ops->module_free(mod->impl);
	free(mod);
}

int engine_module_limit(engine_module *mod, uint64_t max_pages, uint64_t max_elems, char *err,
			size_t errlen)
{
	return mod->ops->module_limit(mod->impl, max_pages, max_elems, err, errlen);
}

int engine_module_has_start(const engine_module *mod)
{
	return mod->ops->module_has_start(mod->impl);
}

engine_instance *engine_instance_new(engine_module *mod, const engine_host_func *funcs,
				     size_t nfuncs, void *user, char *err, size_t errlen)
{
	engine_instance *inst = malloc(sizeof(*inst));
	if (!inst) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	inst->ops = mod->ops;
	inst->impl = mod->ops->instance_new(mod->impl, funcs, nfuncs, user, err, errlen);
	if (!inst->impl) {
		free(inst);
		return NULL;
	}
	return inst;
}

int engine_instance_run(engine_instance *inst, const char *name, char *msg, size_t msglen)
{
	return inst->ops->instance_run(inst->impl, name, msg, msglen);
}

void engine_instance_stop(engine_instance *inst)
{
	if (inst)
		inst->ops->instance_stop(inst->impl);
}

void engine_instance_free(engine_instance *inst)
{
	if (!inst)
		return;
	inst->ops->instance_free(inst->impl);
	free(inst);
}

uint8_t *engine_call_memory(engine_call *call, uint64_t *size)
{
	return call->memory(call, size);
}
