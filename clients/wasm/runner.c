/* runner.c: the child's side of orchard-wasm: everything up to the sandbox is
 * trusted setup (read the file, open preopens, resolve granted hosts); from
 * the sandbox on, every byte of the module is untrusted and runs confined. */
#include "clients/wasm/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/wasm/engine.h"
#include "clients/wasm/sandbox.h"
#include "clients/wasm/wasi.h"

#define MODULE_MAX_BYTES (256u << 20)
#define TABLE_MAX_ELEMS (1u << 20)

static int file_read(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	int rc = -1;
	uint8_t *buf = NULL;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MODULE_MAX_BYTES) {
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path,
			 MODULE_MAX_BYTES);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: short read", path);
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int runner_main(const runner_opts *o)
{
	int status = RUNNER_EXIT_MODULE;
	char err[1024] = "";
	uint8_t *bytes = NULL;
	size_t len = 0;
	engine_module *mod = NULL;
	engine_instance *inst = NULL;
	wasi_ctx *ctx = NULL;

	/* Trusted setup: the file, the folders, the granted hosts (resolved by
	 * main.c already). Nothing here reads the module's contents. */
	if (file_read(o->module_path, &bytes, &len, err, sizeof(err)) < 0)
		goto out;
	if (!o->validate_only) {
		ctx = wasi_ctx_new(o->argv, o->envp, &o->grants);
		if (!ctx) {
			snprintf(err, sizeof(err), "out of memory");
			goto out;
		}
		for (uint32_t i = 0; i < o->ndirs; i++)
			if (wasi_ctx_preopen(ctx, o->dirs[i].host, o->dirs[i].guest) < 0) {
				snprintf(err, sizeof(err), "--dir %s: %s", o->dirs[i].host,
					 strerror(errno));
				goto out;
			}
	}
	/* A compiled module is native code, trusted like a binary: its digest
	 * and versions are checked and it is mapped here, before the sandbox
	 * forbids opening files. A .wasm is decoded only inside the sandbox. */
	if (o->allow_native && engine_module_is_native(bytes, len)) {
		mod = engine_module_load_native(bytes, len, err, sizeof(err));
		if (!mod)
			goto out;
	}
	/* A closed pipe or socket is EPIPE for the guest (as in wasmtime), never
	 * a SIGPIPE that would kill the runtime. */
	signal(SIGPIPE, SIG_IGN);
	/* From here on every byte of the module is untrusted, decoding included. */
	sandbox_opts so = {.max_memory = o->max_memory,
			   .cpu_seconds = o->cpu_seconds,
			   .network = !o->validate_only && grants_any(&o->grants)};
	if (sandbox_apply(&so, err, sizeof(err)) < 0)
		goto out;
	if (!mod)
		mod = engine_module_load(bytes, len, err, sizeof(err));
	free(bytes);
	bytes = NULL;
	if (!mod)
		goto out;
	if (o->validate_only) {
		status = 0;
		goto out;
	}
	if (engine_module_limit(mod, o->max_memory / 65536, TABLE_MAX_ELEMS, err, sizeof(err)) < 0)
		goto out;
	size_t nfuncs;
	const engine_host_func *funcs = wasi_host_funcs(&nfuncs);
	/* Instantiation runs the module's start function, if any. */
	inst = engine_instance_new(mod, funcs, nfuncs, ctx, err, sizeof(err));
	if (!inst && ctx->exited) {
		/* A start function may end the program too. */
		status = (int)(ctx->exit_code & 0xff);
		err[0] = '\0';
		goto out;
	}
	if (!inst)
		goto out;
	switch (engine_instance_run(inst, "_start", err, sizeof(err))) {
	case ENGINE_OK: status = 0; break;
	case ENGINE_EXIT: status = (int)(ctx->exit_code & 0xff); break;
	case ENGINE_TRAP: {
		char tmp[sizeof(err)];
		snprintf(tmp, sizeof(tmp), "trap: %s", err);
		memcpy(err, tmp, sizeof(err));
		status = RUNNER_EXIT_TRAP;
		break;
	}
	default: status = RUNNER_EXIT_MODULE; break;
	}
out:
	if (status != 0 && err[0])
		fprintf(stderr, "orchard-wasm: %s\n", err);
	free(bytes);
	engine_instance_free(inst);
	wasi_ctx_free(ctx);
	engine_module_free(mod);
	return status;
}
