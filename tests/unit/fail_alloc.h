/* Allocation-failure injection for torture tests, included by one test file
 * linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc. */
#ifndef ORCHARD_TESTS_FAIL_ALLOC_H
#define ORCHARD_TESTS_FAIL_ALLOC_H
#include <stddef.h>

/* The code under test calls these instead of the libc functions. Set
 * fail_at to n and seen to 0: the n-th allocation then fails; -1 fails none. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static long fail_at = -1, seen;

static int fail_now(void)
{
	return fail_at >= 0 && ++seen == fail_at;
}
void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

#endif
