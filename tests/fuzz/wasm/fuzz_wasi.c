/* fuzz_wasi.c: libFuzzer driver calling WASI host functions with arbitrary
 * arguments over arbitrary guest memory: every pointer must be checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/wasm/wasi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Calls that could block the fuzzer (stdin, sockets, timers) or fill the
 * disk (fd_allocate) are skipped; their bounds checks share the helpers. */
static int skipped(const char *name)
{
	static const char *const skip[] = {"poll_oneoff",    "fd_allocate",	 "sock_accept",
					   "sock_accept_v2", "sock_recv",	 "sock_recv_v2",
					   "sock_recv_from", "sock_recv_from_v2"};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strcmp(name, skip[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static grants g;
	static wasi_ctx *c;
	static uint8_t mem[65536];
	size_t nfuncs;
	const engine_host_func *funcs = wasi_host_funcs(&nfuncs);
	if (!c) {
		/* One context for the whole run, one scratch folder preopened at fd 3;
		 * stdio is closed so nothing blocks on or floods the terminal. */
		char *argv[] = {"fuzz", "a", NULL}, *envp[] = {"K=V", NULL};
		c = wasi_ctx_new(argv, envp, &g);
		if (!c)
			abort();
		for (int fd = 0; fd < 3; fd++) {
			if (c->fds[fd].host >= 0)
				close(c->fds[fd].host);
			c->fds[fd].host = -1;
		}
		if (mkdir("build-fuzz/wasm/scratch", 0755) < 0 &&
		    access("build-fuzz/wasm/scratch", F_OK) < 0)
			abort();
		if (wasi_ctx_preopen(c, "build-fuzz/wasm/scratch", "/s") < 0)
			abort();
	}
	if (size < 1 + 9 * 4)
		return 0;
	const engine_host_func *f = &funcs[data[0] % nfuncs];
	if (skipped(f->name))
		return 0;
	uint64_t args[16] = {0}, res[4] = {0};
	/* Each argument is, by its top bits, a small number (an fd, flags, a
	 * length), an offset near memory (inside or just past its end), or any
	 * 32-bit value. */
	for (int i = 0; i < 9; i++) {
		uint32_t v;
		memcpy(&v, data + 1 + 4 * i, 4);
		switch (v >> 30) {
		case 0: args[i] = v % 8; break;
		case 1: args[i] = v % 64; break;
		case 2: args[i] = (v & 0x3fffffffu) % (sizeof(mem) + 64); break;
		default: args[i] = v; break;
		}
	}
	size_t rest = size - (1 + 9 * 4);
	size_t msize = rest < sizeof(mem) ? rest : sizeof(mem);
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + 1 + 9 * 4, msize);
	/* Memory is always 64 KiB (the input fills its start), so pointers from
	 * the generator land inside it or just past its end. */
	c->mem = mem;
	c->mem_size = sizeof(mem);
	f->fn(c, NULL, args, res);
	/* Keep the fd table from filling up across runs. */
	for (uint32_t fd = 4; fd < c->nfds; fd++)
		if (c->fds[fd].host >= 0) {
			close(c->fds[fd].host);
			free(c->fds[fd].preopen);
			c->fds[fd] = (wasi_fd){.host = -1};
		}
	return 0;
}
