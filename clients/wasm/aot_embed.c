/* aot_embed.c: the glue sources every .cwasm is built with, carried inside
 * orchard-wasm so that `compile` needs only wabt's headers and a C compiler. */
#include "clients/wasm/aot_compile.h"

/* .incbin paths are relative to the tree's root, where make runs. */
__asm__(".section .rodata\n"
	".global aot_glue_c_src\n"
	"aot_glue_c_src:\n"
	".incbin \"clients/wasm/aot_glue.c\"\n"
	".byte 0\n"
	".global aot_abi_h_src\n"
	"aot_abi_h_src:\n"
	".incbin \"clients/wasm/aot_abi.h\"\n"
	".byte 0\n"
	".previous\n");
