// engine_wabt.cc: engine.h on top of the interpreter in Debian's libwabt
// (wabt 1.0.32, headers under /usr/include/wabt/interp/); the only C++ file.
//
// libwabt is built without exceptions, so host functions never throw: a C
// host function's non-zero return becomes a wabt Trap, and our own
// allocations are wrapped so that std::bad_alloc becomes an error message.
#include "clients/wasm/engine_impl.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <new>
#include <string>

#include "wabt/binary-reader.h"
#include "wabt/error-formatter.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/interp/interp.h"

using namespace wabt;
using namespace wabt::interp;

// The marker a host function's trap carries so that run() can tell a
// proc_exit from a real trap.
static const char k_exit_marker[] = "orchard:proc_exit";

struct wabt_module {
	ModuleDesc desc;
};

struct wabt_instance {
	Store store;
	Instance::Ptr inst;
	void *user = nullptr;
	volatile sig_atomic_t stop = 0;
	int last_rc = ENGINE_HOST_CONTINUE;
};

static void set_err(char *err, size_t errlen, const std::string &msg)
{
	if (err && errlen > 0)
		snprintf(err, errlen, "%s", msg.c_str());
}

extern "C" void *engine_wabt_load(const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
	wabt_module *mod = nullptr;
	try {
		Errors errors;
		Features features; // the MVP plus wabt's defaults (bulk memory, SIMD, ...)
		ReadBinaryOptions options(features, nullptr, false, true, false);
		mod = new wabt_module();
		if (Failed(ReadBinaryInterp("module.wasm", bytes, len, options, &errors,
					    &mod->desc))) {
			std::string msg = FormatErrorsToString(errors, Location::Type::Binary);
			while (!msg.empty() && msg.back() == '\n')
				msg.pop_back();
			// Keep the message to one line for the CLI's one-line reason.
			for (char &c : msg)
				if (c == '\n')
					c = ' ';
			set_err(err, errlen, msg.empty() ? "invalid module" : msg);
			delete mod;
			return nullptr;
		}
	} catch (const std::bad_alloc &) {
		set_err(err, errlen, "out of memory while loading the module");
		delete mod;
		return nullptr;
	}
	return mod;
}

static void module_free(void *p)
{
	delete static_cast<wabt_module *>(p);
}

static int module_limit(void *p, uint64_t max_pages, uint64_t max_elems, char *err, size_t errlen)
{
	wabt_module *mod = static_cast<wabt_module *>(p);
	for (MemoryDesc &m : mod->desc.memories) {
		Limits &l = m.type.limits;
		if (l.initial > max_pages) {
			set_err(err, errlen,
				"memory declares " + std::to_string(l.initial) +
					" initial pages, more than the limit of " +
					std::to_string(max_pages));
			return -1;
		}
		if (!l.has_max || l.max > max_pages) {
			l.max = max_pages;
			l.has_max = true;
		}
	}
	for (TableDesc &t : mod->desc.tables) {
		Limits &l = t.type.limits;
		if (l.initial > max_elems) {
			set_err(err, errlen,
				"table declares " + std::to_string(l.initial) +
					" initial elements, more than the limit of " +
					std::to_string(max_elems));
			return -1;
		}
		if (!l.has_max || l.max > max_elems) {
			l.max = max_elems;
			l.has_max = true;
		}
	}
	// Imported memories and tables are never provided, so they need no cap.
	return 0;
}

static int module_has_start(const void *p)
{
	return !static_cast<const wabt_module *>(p)->desc.starts.empty();
}

// engine_call_memory() for a host call made by the interpreter.
static uint8_t *call_memory(engine_call *call, uint64_t *size)
{
	Thread *thread = static_cast<Thread *>(call->impl);
	*size = 0;
	Instance *inst = thread->GetCallerInstance();
	if (!inst || inst->memories().empty())
		return nullptr;
	Memory::Ptr mem = thread->store().UnsafeGet<Memory>(inst->memories()[0]);
	*size = mem->ByteSize();
	return mem->UnsafeData();
}

static bool types_from_spec(const char *spec, ValueTypes *out)
{
	for (const char *p = spec; *p; p++) {
		switch (*p) {
		case 'i': out->push_back(ValueType::I32); break;
		case 'I': out->push_back(ValueType::I64); break;
		case 'f': out->push_back(ValueType::F32); break;
		case 'F': out->push_back(ValueType::F64); break;
		default: return false;
		}
	}
	return true;
}

static uint64_t value_to_u64(const Value &v, ValueType t)
{
	switch (t) {
	case ValueType::I32: return v.Get<u32>();
	case ValueType::I64: return v.Get<u64>();
	case ValueType::F32: {
		f32 f = v.Get<f32>();
		u32 b;
		memcpy(&b, &f, sizeof b);
		return b;
	}
	case ValueType::F64: {
		f64 f = v.Get<f64>();
		u64 b;
		memcpy(&b, &f, sizeof b);
		return b;
	}
	default: return 0;
	}
}

static Value value_from_u64(uint64_t x, ValueType t)
{
	switch (t) {
	case ValueType::I32: return Value::Make(static_cast<u32>(x));
	case ValueType::I64: return Value::Make(static_cast<u64>(x));
	case ValueType::F32: {
		u32 b = static_cast<u32>(x);
		f32 f;
		memcpy(&f, &b, sizeof f);
		return Value::Make(f);
	}
	case ValueType::F64: {
		f64 f;
		memcpy(&f, &x, sizeof f);
		return Value::Make(f);
	}
	default: return Value::Make(static_cast<u32>(0));
	}
}

// Finds the host function for one import: same module, name and signature.
static const engine_host_func *find_host(const engine_host_func *funcs, size_t nfuncs,
					 const ImportType &imp, const FuncType &want)
{
	for (size_t i = 0; i < nfuncs; i++) {
		const engine_host_func *h = &funcs[i];
		if (imp.module != h->module || imp.name != h->name)
			continue;
		ValueTypes params, results;
		if (!types_from_spec(h->params, &params) || !types_from_spec(h->results, &results))
			continue;
		if (params == want.params && results == want.results)
			return h;
	}
	return nullptr;
}

static const char *kind_name(ExternKind k)
{
	switch (k) {
	case ExternKind::Func: return "function";
	case ExternKind::Table: return "table";
	case ExternKind::Memory: return "memory";
	case ExternKind::Global: return "global";
	default: return "tag";
	}
}

// Links and instantiates into ei. Every wabt handle it makes is a local that
// dies before the caller may delete ei (and its Store) on failure.
static bool instance_link(wabt_instance *ei, wabt_module *mod, const engine_host_func *funcs,
			  size_t nfuncs, char *err, size_t errlen)
{
	Module::Ptr module = Module::New(ei->store, mod->desc);
	RefVec imports;
	for (const ImportType &imp : module->import_types()) {
		const FuncType *ft = dyn_cast<FuncType>(imp.type.get());
		const engine_host_func *h = ft ? find_host(funcs, nfuncs, imp, *ft) : nullptr;
		if (!h) {
			set_err(err, errlen,
				std::string("unknown import: ") + kind_name(imp.type->kind) + " " +
					imp.module + "." + imp.name +
					" (or its signature) is not provided by orchard-wasm");
			return false;
		}
		wabt_instance *self = ei;
		FuncType type = *ft;
		HostFunc::Ptr hf = HostFunc::New(
			ei->store, type,
			[self, h, type](Thread &thread, const Values &params, Values &results,
					Trap::Ptr *out_trap) -> Result {
				uint64_t a[16] = {0}, r[4] = {0};
				size_t np = params.size() < 16 ? params.size() : 16;
				for (size_t i = 0; i < np; i++)
					a[i] = value_to_u64(params[i], type.params[i]);
				if (self->stop) {
					self->last_rc = -1;
					*out_trap = Trap::New(thread.store(), "stopped");
					return Result::Error;
				}
				engine_call call{call_memory, &thread};
				int rc = h->fn(self->user, &call, a, r);
				for (size_t i = 0; i < type.results.size() && i < 4; i++)
					results[i] = value_from_u64(r[i], type.results[i]);
				if (rc == ENGINE_HOST_CONTINUE)
					return Result::Ok;
				self->last_rc = rc;
				*out_trap =
					Trap::New(thread.store(),
						  rc == ENGINE_HOST_EXIT ? k_exit_marker
									 : "host function trapped");
				return Result::Error;
			});
		imports.push_back(hf.ref());
	}
	Trap::Ptr trap;
	ei->inst = Instance::Instantiate(ei->store, module.ref(), imports, &trap);
	if (!ei->inst) {
		set_err(err, errlen,
			std::string("instantiation failed: ") +
				(trap ? trap->message() : std::string("unknown error")));
		return false;
	}
	return true;
}

static void *instance_new(void *mod, const engine_host_func *funcs, size_t nfuncs, void *user,
			  char *err, size_t errlen)
{
	wabt_instance *ei = nullptr;
	try {
		ei = new wabt_instance();
		ei->user = user;
		if (!instance_link(ei, static_cast<wabt_module *>(mod), funcs, nfuncs, err,
				   errlen)) {
			delete ei;
			return nullptr;
		}
	} catch (const std::bad_alloc &) {
		set_err(err, errlen, "out of memory while instantiating the module");
		delete ei;
		return nullptr;
	}
	return ei;
}

static int instance_run(void *p, const char *name, char *msg, size_t msglen)
{
	wabt_instance *ei = static_cast<wabt_instance *>(p);
	try {
		Module::Ptr module = ei->store.UnsafeGet<Module>(ei->inst->module());
		const auto &exports = module->export_types();
		for (size_t i = 0; i < exports.size(); i++) {
			if (exports[i].name != name)
				continue;
			if (exports[i].type->kind != ExternKind::Func) {
				set_err(msg, msglen,
					std::string("export ") + name + " is not a function");
				return ENGINE_ERROR;
			}
			Func::Ptr fn = ei->store.UnsafeGet<Func>(ei->inst->exports()[i]);
			if (!fn->type().params.empty()) {
				set_err(msg, msglen,
					std::string("export ") + name + " takes parameters");
				return ENGINE_ERROR;
			}
			Values params, results;
			Trap::Ptr trap;
			ei->last_rc = ENGINE_HOST_CONTINUE;
			if (Succeeded(fn->Call(ei->store, params, results, &trap)))
				return ENGINE_OK;
			if (ei->last_rc == ENGINE_HOST_EXIT)
				return ENGINE_EXIT;
			if (ei->last_rc == -1)
				return ENGINE_STOP;
			set_err(msg, msglen, trap ? trap->message() : std::string("trap"));
			return ENGINE_TRAP;
		}
		set_err(msg, msglen, std::string("no exported function ") + name);
		return ENGINE_ERROR;
	} catch (const std::bad_alloc &) {
		set_err(msg, msglen, "out of memory");
		return ENGINE_TRAP;
	}
}

static void instance_stop(void *p)
{
	static_cast<wabt_instance *>(p)->stop = 1;
}

static void instance_free(void *p)
{
	delete static_cast<wabt_instance *>(p);
}

extern "C" const engine_ops engine_wabt_ops = {
	"wabt interpreter", module_free,  module_limit,	 module_has_start,
	instance_new,	    instance_run, instance_stop, instance_free,
};
