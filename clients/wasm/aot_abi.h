/* aot_abi.h: the contract between engine_aot.c (in orchard-wasm) and the glue
 * compiled into every .cwasm (aot_glue.c plus the code wasm2c wrote). */
#ifndef ORCHARD_WASM_AOT_ABI_H
#define ORCHARD_WASM_AOT_ABI_H

#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a field below or the meaning of a status changes: a .cwasm
 * records the ABI it was built for and run refuses any other. */
#define AOT_ABI_VERSION 1u

/* The symbol the loader looks up in the shared object. */
#define AOT_GLUE_SYMBOL "orchard_aot_glue"

/* Statuses of instantiate() and start(); the same numbers as engine.h's
 * enum engine_status, so that the engine passes them on unchanged. */
enum {
	AOT_OK = 0,
	AOT_TRAP = 1,
	AOT_EXIT = 2,
	AOT_STOP = 3,
	AOT_ERROR = 4,
};

/* One function import, with engine.h's signature letters ('i', 'I', 'f', 'F'). */
typedef struct aot_import {
	const char *module;
	const char *name;
	const char *params;
	const char *results;
} aot_import;

/* Calls import number idx on behalf of the guest. Returns engine.h's
 * enum engine_host_rc: anything but 0 unwinds the guest. */
typedef int (*aot_host_fn)(void *host, uint32_t idx, const uint64_t *args, uint64_t *results);

typedef struct aot_glue {
	uint32_t abi;
	uint32_t nimports;
	const aot_import *imports;
	int has_memory, has_table, has_start_fn;
	uint32_t memory_initial; /* pages */
	uint32_t table_initial;	 /* elements */
	/* Allocates an instance, links it to host and runs the module's start
	 * function. *inst is set (and must be given to free_instance) whatever
	 * the status; msg says why on AOT_TRAP. */
	int (*instantiate)(void **inst, aot_host_fn fn, void *host, uint32_t max_pages,
			   uint32_t max_elems, char *msg, size_t msglen);
	/* Calls the export _start; AOT_ERROR when the module has none. */
	int (*start)(void *inst, char *msg, size_t msglen);
	/* Memory 0 of inst: its bytes and its size, NULL when there is none. */
	uint8_t *(*memory)(void *inst, uint64_t *size);
	void (*free_instance)(void *inst);
	/* Called by the engine's SIGSEGV handler when the guest ran out of
	 * native stack: unwinds to the running instantiate() or start(). */
	void (*stack_exhausted)(void);
	/* Frees what the shared object's runtime holds (before dlclose). */
	void (*fini)(void);
} aot_glue;

#endif
