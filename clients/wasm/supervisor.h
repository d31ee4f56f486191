/* supervisor.h: runs a function in a child process and watches it: a
 * wall-clock budget, and a one-line reason when the child dies by a signal. */
#ifndef ORCHARD_WASM_SUPERVISOR_H
#define ORCHARD_WASM_SUPERVISOR_H

#include <stdint.h>

typedef struct supervisor_opts {
	uint64_t timeout_ms;  /* wall clock; 0: none */
	uint64_t cpu_seconds; /* only to name the cause of a SIGXCPU */
	uint64_t max_memory;  /* only to name the cause of an out-of-memory death */
} supervisor_opts;

/* Forks; the child returns fn(arg) as its exit status. The parent waits,
 * kills the child when the wall clock runs out or when the parent gets
 * SIGINT/SIGTERM, and returns the child's exit status, or
 * RUNNER_EXIT_BUDGET / 128+signal after printing why on stderr. */
int supervisor_run(int (*fn)(void *), void *arg, const supervisor_opts *o);

#endif
