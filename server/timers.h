/* Deadlines without a polling loop per request: one thread sleeps until the
 * earliest armed timer of a binary min-heap and runs its callback. */
#ifndef ORCHARD_TIMERS_H
#define ORCHARD_TIMERS_H
#include <stddef.h>
#include <stdint.h>

struct timers;

/* Caller-owned: embed it in the object that waits, no allocation per arm. */
struct timer {
	uint64_t due_ms; /* CLOCK_MONOTONIC milliseconds */
	size_t slot;	 /* heap index + 1; 0 while not armed */
	void (*cb)(void *cls);
	void *cls;
};

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t timers_now_ms(void);

/* Starts the timer thread. NULL when out of memory or threads. */
struct timers *timers_start(void);
/* Fires nothing more, joins the thread, frees. Timers still armed are
 * forgotten (their owners must be gone by then). */
void timers_stop(struct timers *t);

/* Arms tm to run cb(cls) on the timer thread at due_ms (re-arms it when
 * armed already). Returns 0, or -1 when out of memory. */
int timers_add(struct timers *t, struct timer *tm, uint64_t due_ms, void (*cb)(void *cls),
	       void *cls);

/* Disarms tm. Callbacks run under the timers' lock, so once this returns
 * tm's callback is neither running nor due: its owner may free it. */
void timers_cancel(struct timers *t, struct timer *tm);

/* Runs every armed timer now (shutdown: every waiting request answers). */
void timers_fire_all(struct timers *t);

/* How many timers are armed. */
size_t timers_count(struct timers *t);

#endif
