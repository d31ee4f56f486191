// aot_translate.cc: wasm2c as a library (libwabt's ReadBinaryIr, ValidateModule,
// GenerateNames, ApplyNames, WriteC: what /usr/bin/wasm2c runs), plus the glue.
//
// Before WriteC the module is renamed so that the generated C has names the
// glue can know without wasm2c's mangling: import i becomes "h"."f<i>" (its
// real module, name and signature go into a table that run links against the
// host), memory 0 and table 0 get the exports "orchard_mem0"/"orchard_tbl0".
#include "clients/wasm/aot_translate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>
#include <string>

#include "wabt/apply-names.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/cast.h"
#include "wabt/c-writer.h"
#include "wabt/error-formatter.h"
#include "wabt/generate-names.h"
#include "wabt/ir.h"
#include "wabt/stream.h"
#include "wabt/validator.h"

using namespace wabt;

static void set_err(char *err, size_t errlen, const std::string &msg)
{
	if (err && errlen > 0)
		snprintf(err, errlen, "%s", msg.c_str());
}

static char *dup_str(const std::string &s)
{
	char *p = static_cast<char *>(malloc(s.size() + 1));
	if (p)
		memcpy(p, s.c_str(), s.size() + 1);
	return p;
}

// engine.h's letters for a value type; 0 for one no host function takes.
static char type_letter(Type t)
{
	switch (t) {
	case Type::I32: return 'i';
	case Type::I64: return 'I';
	case Type::F32: return 'f';
	case Type::F64: return 'F';
	default: return 0;
	}
}

static const char *c_type(char letter)
{
	switch (letter) {
	case 'i': return "u32";
	case 'I': return "u64";
	case 'f': return "f32";
	default: return "f64";
	}
}

static bool letters(const TypeVector &v, std::string *out)
{
	for (Type t : v) {
		char c = type_letter(t);
		if (!c)
			return false;
		out->push_back(c);
	}
	return true;
}

static const char *kind_name(ExternalKind k)
{
	switch (k) {
	case ExternalKind::Func: return "function";
	case ExternalKind::Table: return "table";
	case ExternalKind::Memory: return "memory";
	case ExternalKind::Global: return "global";
	default: return "tag";
	}
}

static bool host_has(const engine_host_func *funcs, size_t nfuncs, const std::string &mod,
		     const std::string &name, const std::string &params, const std::string &results)
{
	for (size_t i = 0; i < nfuncs; i++)
		if (mod == funcs[i].module && name == funcs[i].name && params == funcs[i].params &&
		    results == funcs[i].results)
			return true;
	return false;
}

// A C string literal for s (import names are arbitrary bytes).
static std::string c_literal(const std::string &s)
{
	std::string out = "\"";
	char esc[8];
	for (unsigned char c : s) {
		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\%03o", c);
			out += esc;
		} else {
			out.push_back(static_cast<char>(c));
		}
	}
	return out + "\"";
}

// The trampoline for import idx: C arguments to u64 slots and back.
static std::string trampoline(size_t idx, const std::string &params, const std::string &results)
{
	std::string i = std::to_string(idx);
	std::string ret = results.empty() ? "void" : c_type(results[0]);
	std::string s = ret + " Z_hZ_f" + i + "(struct Z_h_instance_t *h";
	std::string pack;
	for (size_t k = 0; k < params.size(); k++) {
		std::string n = "p" + std::to_string(k);
		s += std::string(", ") + c_type(params[k]) + " " + n;
		pack += "\ta[" + std::to_string(k) + "] = aot_to_u64_" + params[k] + "(" + n +
			");\n";
	}
	s += ")\n{\n\tuint64_t a[" + std::to_string(params.size() + 1) + "] = {0}, r[1] = {0};\n" +
	     pack + "\taot_call(h, " + i + ", a, r);\n";
	if (!results.empty())
		s += std::string("\treturn aot_from_u64_") + results[0] + "(r[0]);\n";
	else
		s += "\t(void)r;\n";
	return s + "}\n\n";
}

static void add_export(Module *m, const char *name, ExternalKind kind)
{
	auto field = std::make_unique<ExportModuleField>();
	field->export_.name = name;
	field->export_.kind = kind;
	field->export_.var = Var(0, Location());
	m->AppendField(std::move(field));
}

static bool translate(const uint8_t *wasm, size_t len, const engine_host_func *funcs, size_t nfuncs,
		      aot_sources *out, char *err, size_t errlen)
{
	Errors errors;
	Module module;
	Features features;
	ReadBinaryOptions options(features, nullptr, true, true, false);
	if (Failed(ReadBinaryIr("module.wasm", wasm, len, options, &errors, &module)) ||
	    Failed(ValidateModule(&module, &errors, ValidateOptions(features)))) {
		std::string msg = FormatErrorsToString(errors, Location::Type::Binary);
		for (char &c : msg)
			if (c == '\n')
				c = ' ';
		set_err(err, errlen, msg.empty() ? "invalid module" : msg);
		return false;
	}

	std::string table = "static const aot_import aot_imports[] = {\n";
	std::string tramps;
	size_t nimports = 0;
	for (Import *imp : module.imports) {
		std::string params, results;
		FuncImport *fi = dyn_cast<FuncImport>(imp);
		bool ok =
			fi && letters(fi->func.decl.sig.param_types, &params) &&
			letters(fi->func.decl.sig.result_types, &results) &&
			host_has(funcs, nfuncs, imp->module_name, imp->field_name, params, results);
		if (!ok) {
			set_err(err, errlen,
				std::string("unknown import: ") + kind_name(imp->kind()) + " " +
					imp->module_name + "." + imp->field_name +
					" (or its signature) is not provided by orchard-wasm");
			return false;
		}
		table += "\t{" + c_literal(imp->module_name) + ", " + c_literal(imp->field_name) +
			 ", \"" + params + "\", \"" + results + "\"},\n";
		tramps += trampoline(nimports, params, results);
		imp->module_name = "h";
		imp->field_name = "f" + std::to_string(nimports);
		nimports++;
	}
	table += "\t{0, 0, 0, 0},\n};\n";

	// _start as the interpreter judges it at run time.
	const char *start_problem = nullptr;
	const Export *ex = module.GetExport("_start");
	if (!ex)
		start_problem = "no exported function _start";
	else if (ex->kind != ExternalKind::Func)
		start_problem = "export _start is not a function";
	else if (module.GetFunc(ex->var)->GetNumParams() != 0)
		start_problem = "export _start takes parameters";

	bool has_mem = !module.memories.empty(), has_tbl = !module.tables.empty();
	if (has_mem)
		add_export(&module, "orchard_mem0", ExternalKind::Memory);
	if (has_tbl)
		add_export(&module, "orchard_tbl0", ExternalKind::Table);
	if (Failed(GenerateNames(&module))) {
		set_err(err, errlen, "wasm2c: cannot name the module's items");
		return false;
	}
	(void)ApplyNames(&module); // wasm2c ignores its result too
	MemoryStream c_stream, h_stream;
	WriteCOptions wopts;
	wopts.module_name = "app";
	if (Failed(WriteC(&c_stream, &h_stream, "app.h", &module, wopts))) {
		set_err(err, errlen, "wasm2c cannot translate this module");
		return false;
	}

	std::string glue = "/* glue.c: generated by orchard-wasm compile */\n"
			   "#include \"aot_abi.h\"\n#include \"app.h\"\n";
	glue += "#define AOT_NIMPORTS " + std::to_string(nimports) + "\n";
	glue += "#define AOT_HAS_MEMORY " + std::to_string(has_mem) + "\n";
	glue += "#define AOT_HAS_TABLE " + std::to_string(has_tbl) + "\n";
	glue += "#define AOT_HAS_START_FN " + std::to_string(!module.starts.empty()) + "\n";
	glue += "#define AOT_MEMORY_INITIAL " +
		std::to_string(has_mem ? module.memories[0]->page_limits.initial : 0) + "u\n";
	glue += "#define AOT_TABLE_INITIAL " +
		std::to_string(has_tbl ? module.tables[0]->elem_limits.initial : 0) + "u\n";
	glue += std::string("#define AOT_HAS_START ") + (start_problem ? "0" : "1") + "\n";
	glue += std::string("#define AOT_START_PROBLEM \"") + (start_problem ? start_problem : "") +
		"\"\n";
	glue += table + "#include \"aot_glue.c\"\n\n" + tramps;

	const auto &c = c_stream.output_buffer().data, &h = h_stream.output_buffer().data;
	out->app_c = dup_str(std::string(c.begin(), c.end()));
	out->app_h = dup_str(std::string(h.begin(), h.end()));
	out->glue_c = dup_str(glue);
	if (!out->app_c || !out->app_h || !out->glue_c) {
		set_err(err, errlen, "out of memory");
		return false;
	}
	return true;
}

extern "C" int aot_translate(const uint8_t *wasm, size_t len, const engine_host_func *funcs,
			     size_t nfuncs, aot_sources *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	try {
		return translate(wasm, len, funcs, nfuncs, out, err, errlen) ? 0 : -1;
	} catch (const std::bad_alloc &) {
		set_err(err, errlen, "out of memory while translating the module");
		return -1;
	}
}

extern "C" void aot_sources_free(aot_sources *s)
{
	if (!s)
		return;
	free(s->app_c);
	free(s->app_h);
	free(s->glue_c);
	memset(s, 0, sizeof(*s));
}
