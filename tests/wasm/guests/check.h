/* check.h: tiny assertions for guest test programs: each check prints
 * "PASS name" or "FAIL name: detail", which tests/integration/wasm.sh turns into TAP. */
#ifndef GUEST_CHECK_H
#define GUEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int check_failed;

#define CHECK(name, cond)                                                                          \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("PASS %s\n", name);                                                 \
		} else {                                                                           \
			printf("FAIL %s: line %d: %s\n", name, __LINE__, #cond);                   \
			check_failed++;                                                            \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(name, got, want)                                                                  \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (g_ == w_) {                                                                    \
			printf("PASS %s\n", name);                                                 \
		} else {                                                                           \
			printf("FAIL %s: line %d: got %lld want %lld\n", name, __LINE__, g_, w_);  \
			check_failed++;                                                            \
		}                                                                                  \
	} while (0)

/* The first byte past linear memory, and an address straddling the end. */
#define MEM_END ((uint32_t)(__builtin_wasm_memory_size(0) * 65536u))
#define BAD_PTR (MEM_END - 2u)

/* Raw imports for the bad-pointer checks: wasi-libc's wrappers would touch
 * the memory (strlen) before the host ever saw the pointer. */
#define RAW(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
RAW(args_get) int32_t raw_args_get(uint32_t argv, uint32_t buf);
RAW(args_sizes_get) int32_t raw_args_sizes_get(uint32_t n, uint32_t size);
RAW(environ_get) int32_t raw_environ_get(uint32_t env, uint32_t buf);
RAW(clock_time_get) int32_t raw_clock_time_get(uint32_t id, uint64_t prec, uint32_t out);
RAW(random_get) int32_t raw_random_get(uint32_t buf, uint32_t len);
RAW(fd_write) int32_t raw_fd_write(uint32_t fd, uint32_t iovs, uint32_t n, uint32_t out);
RAW(fd_read) int32_t raw_fd_read(uint32_t fd, uint32_t iovs, uint32_t n, uint32_t out);
RAW(fd_fdstat_get) int32_t raw_fd_fdstat_get(uint32_t fd, uint32_t out);
RAW(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(uint32_t fd, uint32_t buf, uint32_t len);
RAW(poll_oneoff) int32_t raw_poll_oneoff(uint32_t in, uint32_t out, uint32_t n, uint32_t nev);
RAW(path_open)
int32_t raw_path_open(uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t path_len,
		      uint32_t oflags, uint64_t base, uint64_t inh, uint32_t fdflags, uint32_t out);
RAW(fd_readdir)
int32_t raw_fd_readdir(uint32_t fd, uint32_t buf, uint32_t len, uint64_t cookie, uint32_t out);
RAW(proc_raise) int32_t raw_proc_raise(uint32_t sig);
RAW(sock_recv)
int32_t raw_sock_recv(uint32_t fd, uint32_t iovs, uint32_t n, uint32_t flags, uint32_t out,
		      uint32_t oflags);

static inline int check_done(void)
{
	printf("DONE %d failed\n", check_failed);
	return check_failed ? 1 : 0;
}

#endif
