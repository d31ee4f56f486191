/* aot_compile.h: `orchard-wasm compile`: a module to a .cwasm through wasm2c
 * (libwabt) and the system C compiler, reproducibly. */
#ifndef ORCHARD_WASM_AOT_COMPILE_H
#define ORCHARD_WASM_AOT_COMPILE_H

#include <stddef.h>

/* Exit statuses of compile besides 0 and the usage error. */
enum {
	AOT_COMPILE_TOOLCHAIN = 1, /* no compiler, it failed, or the output cannot be written */
	AOT_COMPILE_MODULE = 125,  /* the module is refused, as run would refuse it */
};

/* The glue sources (aot_embed.c), NUL-terminated. */
extern const char aot_glue_c_src[];
extern const char aot_abi_h_src[];

/* Compiles in_path to out_path for target (NULL: this machine's) at the C
 * compiler's opt_level 0-3 (anything else: 3). The output appears whole or
 * not at all. Returns 0 or an exit status above, with a
 * one-line reason in err. The compiler is $ORCHARD_WASM_CC, else cc for this
 * machine and TARGET-gcc for another. */
int aot_compile(const char *in_path, const char *out_path, const char *target, int opt_level,
		char *err, size_t errlen);

#endif
