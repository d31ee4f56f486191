/* aot_translate.h: a WebAssembly module to C, by wasm2c's own code in
 * libwabt: app.c and app.h, plus the generated half of the glue (glue.c). */
#ifndef ORCHARD_WASM_AOT_TRANSLATE_H
#define ORCHARD_WASM_AOT_TRANSLATE_H

#include <stddef.h>
#include <stdint.h>

#include "clients/wasm/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The three C files of one module, each a NUL-terminated malloc()ed string. */
typedef struct aot_sources {
	char *app_c;
	char *app_h;
	char *glue_c;
} aot_sources;

/* Translates a module that engine_module_load() accepted. Every import must
 * be one of funcs (module, name and signature), as at run time. Returns 0, or
 * -1 with the interpreter's wording in err. aot_sources_free() in any case. */
int aot_translate(const uint8_t *wasm, size_t len, const engine_host_func *funcs, size_t nfuncs,
		  aot_sources *out, char *err, size_t errlen);
/* NULL-safe; resets the struct. */
void aot_sources_free(aot_sources *s);

#ifdef __cplusplus
}
#endif
#endif
