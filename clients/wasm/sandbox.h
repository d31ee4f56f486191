/* sandbox.h: what the child drops before guest code runs: resource limits,
 * no_new_privs and a seccomp allow-list sized to the app's capabilities. */
#ifndef ORCHARD_WASM_SANDBOX_H
#define ORCHARD_WASM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sandbox_opts {
	uint64_t max_memory;  /* bytes of guest linear memory; 0: no address-space cap */
	uint64_t cpu_seconds; /* 0: none */
	bool network;	      /* allow the socket system calls */
} sandbox_opts;

/* Applies rlimits, PR_SET_NO_NEW_PRIVS and the seccomp filter to the calling
 * process (single-threaded). Returns 0, or -1 with a message in err. */
int sandbox_apply(const sandbox_opts *o, char *err, size_t errlen);

#endif
