/* wasi.h: the WASI host's state (fd table, args, environment, grants) and
 * the helpers every wasi_*.c file uses to reach guest memory safely. */
#ifndef ORCHARD_WASI_H
#define ORCHARD_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clients/wasm/engine.h"
#include "clients/wasm/grants.h"
#include "clients/wasm/wasi_abi.h"

/* One guest file descriptor. host < 0 marks a free slot. */
typedef struct wasi_fd {
	int host;
	uint8_t type;	     /* FT_* */
	uint16_t flags;	     /* FDF_* as last set by the guest */
	uint64_t rights;     /* what this fd may do */
	uint64_t inheriting; /* what fds opened through it may do */
	char *preopen;	     /* guest name of a preopened folder, else NULL */
} wasi_fd;

typedef struct wasi_ctx {
	wasi_fd *fds;
	uint32_t nfds;
	uint32_t max_fds;
	char **argv; /* owned copies */
	uint32_t argc;
	char **envp;
	uint32_t envc;
	const grants *grants; /* borrowed */
	uint32_t exit_code;
	bool exited; /* proc_exit was called (even from a start function) */
	/* Guest memory of the call in progress (wasi_enter sets them). */
	uint8_t *mem;
	uint64_t mem_size;
} wasi_ctx;

/* Creates a context holding copies of argv and envp (NULL-terminated) and
 * guest fds 0..2 bound to the host's stdin, stdout and stderr. */
wasi_ctx *wasi_ctx_new(char *const *argv, char *const *envp, const grants *g);
/* Closes every fd and frees everything. NULL-safe. */
void wasi_ctx_free(wasi_ctx *c);
/* Opens host_path as a folder and preopens it as guest_path (the next free
 * fd). Returns 0, or -1 with errno set. */
int wasi_ctx_preopen(wasi_ctx *c, const char *host_path, const char *guest_path);

/* The table of every host function the runtime provides, and its length. */
const engine_host_func *wasi_host_funcs(size_t *n);

/* ---- used by the wasi_*.c files ---- */

/* Host errno to WASI errno. */
int32_t wasi_errno(int err);
/* Guest memory [ptr, ptr+len) or NULL when any byte of it is outside. */
void *wasi_mem(wasi_ctx *c, uint64_t ptr, uint64_t len);
/* Little-endian stores and loads; return W_EFAULT when out of bounds. */
int32_t wasi_put_u8(wasi_ctx *c, uint32_t ptr, uint8_t v);
int32_t wasi_put_u16(wasi_ctx *c, uint32_t ptr, uint16_t v);
int32_t wasi_put_u32(wasi_ctx *c, uint32_t ptr, uint32_t v);
int32_t wasi_put_u64(wasi_ctx *c, uint32_t ptr, uint64_t v);
int32_t wasi_get_u32(wasi_ctx *c, uint32_t ptr, uint32_t *v);
int32_t wasi_get_u64(wasi_ctx *c, uint32_t ptr, uint64_t *v);
/* Reads nvec guest iovecs at ptr into host iovecs (at most max). */
struct iovec;
int32_t wasi_iovs(wasi_ctx *c, uint32_t ptr, uint32_t nvec, struct iovec *out, uint32_t max);
/* Copies a guest string (not NUL-terminated) into a new host string. */
int32_t wasi_str(wasi_ctx *c, uint32_t ptr, uint32_t len, char **out);
/* The fd if it is open and has every right in need; else W_EBADF or
 * W_ENOTCAPABLE in *err. */
wasi_fd *wasi_fd_get(wasi_ctx *c, uint32_t fd, uint64_t need, int32_t *err);
/* Takes a free guest fd for host (which it then owns); -1 when full. */
int64_t wasi_fd_add(wasi_ctx *c, int host, uint8_t type, uint64_t rights, uint64_t inheriting);
/* wasi_fd_add(), then the new guest fd written at out; when the table is
 * full, host is closed and W_EMFILE returned. */
int32_t wasi_fd_give(wasi_ctx *c, int host, uint8_t type, uint64_t rights, uint64_t inheriting,
		     uint32_t out);
/* The WASI filetype of a host st_mode. */
uint8_t wasi_filetype(unsigned mode);
/* Fills a 64-byte filestat at ptr from a host struct stat. */
struct stat;
int32_t wasi_put_filestat(wasi_ctx *c, uint32_t ptr, const struct stat *st);

/* Each wasi_*.c exports its part of the table. */
extern const engine_host_func wasi_proc_funcs[];
extern const size_t wasi_proc_nfuncs;
extern const engine_host_func wasi_fd_funcs[];
extern const size_t wasi_fd_nfuncs;
extern const engine_host_func wasi_path_funcs[];
extern const size_t wasi_path_nfuncs;
extern const engine_host_func wasi_poll_funcs[];
extern const size_t wasi_poll_nfuncs;
extern const engine_host_func wasi_sock_funcs[];
extern const size_t wasi_sock_nfuncs;

/* Defines a WASI function name(ctx, args) returning a WASI errno, and the
 * engine trampoline name_host that the tables point at. */
#define WASI_FN(name)                                                                              \
	static int32_t w_##name(wasi_ctx *c, const uint64_t *a);                                   \
	static int w_##name##_host(void *user, engine_call *call, const uint64_t *a, uint64_t *r)  \
	{                                                                                          \
		wasi_ctx *c = user;                                                                \
		if (call) /* NULL: the caller set c->mem itself (tests, fuzzing) */                \
			c->mem = engine_call_memory(call, &c->mem_size);                           \
		r[0] = (uint32_t)w_##name(c, a);                                                   \
		return ENGINE_HOST_CONTINUE;                                                       \
	}                                                                                          \
	static int32_t w_##name(wasi_ctx *c, const uint64_t *a)

#define WASI_ENTRY(name, params)                                                                   \
	{                                                                                          \
		"wasi_snapshot_preview1", #name, params, "i", w_##name##_host                      \
	}

#endif
