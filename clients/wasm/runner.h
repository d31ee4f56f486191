/* runner.h: one app run from start to end inside the (child) process:
 * open the preopens, sandbox, then load, validate, instantiate with WASI, run _start. */
#ifndef ORCHARD_WASM_RUNNER_H
#define ORCHARD_WASM_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "clients/wasm/grants.h"

#define RUNNER_DIRS_MAX 32

/* Exit statuses of orchard-wasm besides the guest's own (docs/wasm.md). */
enum {
	RUNNER_EXIT_USAGE = 2,	  /* bad command line */
	RUNNER_EXIT_MODULE = 125, /* unreadable, invalid or unlinkable module */
	RUNNER_EXIT_TRAP = 134,	  /* the guest trapped */
	RUNNER_EXIT_BUDGET = 137, /* killed: CPU, wall-clock or memory budget */
};

typedef struct runner_dir {
	const char *host;
	const char *guest;
} runner_dir;

typedef struct runner_opts {
	const char *module_path;
	char **argv; /* the guest's argv, argv[0] included, NULL-terminated */
	char **envp; /* the guest's environment, NULL-terminated */
	runner_dir dirs[RUNNER_DIRS_MAX];
	uint32_t ndirs;
	grants grants;
	uint64_t max_memory; /* bytes */
	uint64_t cpu_seconds;
	bool validate_only;
	bool allow_native; /* a .cwasm may run (the caller trusts the file like a binary) */
} runner_opts;

/* Runs the app and returns the process exit status; any failure prints one
 * line "orchard-wasm: ..." on stderr first. Meant for a child process: it
 * applies the sandbox to the calling process. */
int runner_main(const runner_opts *o);

#endif
