/* supervisor.h: runs an app in a child process and watches it: a wall-clock
 * budget, stop on request, and a one-line reason when the child dies. */
#ifndef ORCHARD_WASM_SUPERVISOR_H
#define ORCHARD_WASM_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct supervisor_opts {
	uint64_t timeout_ms;  /* wall clock; 0: none */
	uint64_t cpu_seconds; /* only to name the cause of a SIGXCPU */
	uint64_t max_memory;  /* only for the record */
} supervisor_opts;

typedef struct supervisor_child supervisor_child;

/* Forks; the child returns fn(arg) as its exit status and dies with the
 * calling process (PR_SET_PDEATHSIG). Returns NULL when fork fails. The
 * embedding agent uses spawn/wait/stop/free; the CLI uses supervisor_run. */
supervisor_child *supervisor_spawn(int (*fn)(void *), void *arg, const supervisor_opts *o);
/* The child's pid. */
pid_t supervisor_pid(const supervisor_child *ch);
/* An fd that polls readable when the child ends (a pidfd), or -1. */
int supervisor_fd(const supervisor_child *ch);
/* Waits up to timeout_ms (-1: until the end; 0: just look) and enforces the
 * wall-clock budget. Returns 0 while the child runs, 1 once it has ended:
 * then *status is the exit status (the guest's, RUNNER_EXIT_BUDGET, or
 * 128+signal) and why holds the one-line reason ("" for a plain exit). */
int supervisor_wait(supervisor_child *ch, int timeout_ms, int *status, char *why, size_t whylen);
/* Asks the child to stop: SIGTERM now, SIGKILL if it is still there after
 * grace_ms. Call supervisor_wait afterwards for its status. */
void supervisor_stop(supervisor_child *ch, int grace_ms);
/* Kills the child if it still runs, reaps it, frees everything. NULL-safe. */
void supervisor_free(supervisor_child *ch);

/* The CLI: spawn, wait, forward SIGINT/SIGTERM as a stop, print the reason
 * on stderr, and return the exit status. */
int supervisor_run(int (*fn)(void *), void *arg, const supervisor_opts *o);

#endif
