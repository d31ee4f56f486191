/* embed_run.c: runs a module through libwasmrt's engine and WASI API
 * in-process, without the supervisor or sandbox, as an embedder would; the
 * test suite runs it under valgrind (which cannot run seccomp filters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/wasm/engine.h"
#include "clients/wasm/wasi.h"

static unsigned char *slurp(const char *path, size_t *len)
{
	unsigned char *buf = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
			buf = malloc((size_t)n + 1);
			if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
				free(buf);
				buf = NULL;
			}
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/* usage: embed_run MODULE.wasm|MODULE.cwasm [ARGS...]; EMBED_DIR=HOST:GUEST preopens one
 * folder, EMBED_ENV=K=V sets one variable, EMBED_PAGES=N caps linear memory
 * (default 1024 pages, 64 MiB; valgrind is slow to fill that much). */
int main(int argc, char **argv)
{
	int status = 125;
	char err[512] = "";
	size_t len = 0, nfuncs = 0;
	unsigned char *bytes = NULL;
	engine_module *mod = NULL;
	engine_instance *inst = NULL;
	wasi_ctx *ctx = NULL;
	static grants g;
	char *envp[2] = {getenv("EMBED_ENV"), NULL};
	char *dir = getenv("EMBED_DIR") ? strdup(getenv("EMBED_DIR")) : NULL;
	unsigned long pages =
		getenv("EMBED_PAGES") ? strtoul(getenv("EMBED_PAGES"), NULL, 10) : 1024;

	if (argc < 2) {
		fprintf(stderr, "usage: embed_run MODULE.wasm [ARGS...]\n");
		goto out;
	}
	bytes = slurp(argv[1], &len);
	if (!bytes) {
		snprintf(err, sizeof(err), "cannot read %s", argv[1]);
		goto out;
	}
	/* A .cwasm is native code: an embedder opts in, as this test tool does. */
	if (engine_module_is_native(bytes, len))
		mod = engine_module_load_native(bytes, len, err, sizeof(err));
	else
		mod = engine_module_load(bytes, len, err, sizeof(err));
	if (!mod || engine_module_limit(mod, pages, 1u << 20, err, sizeof(err)) < 0)
		goto out;
	ctx = wasi_ctx_new(argv + 1, envp, &g);
	if (!ctx)
		goto out;
	if (dir) {
		char *colon = strchr(dir, ':');
		if (colon)
			*colon = '\0';
		if (wasi_ctx_preopen(ctx, dir, colon ? colon + 1 : dir) < 0) {
			snprintf(err, sizeof(err), "preopen %s failed", dir);
			goto out;
		}
	}
	const engine_host_func *funcs = wasi_host_funcs(&nfuncs);
	inst = engine_instance_new(mod, funcs, nfuncs, ctx, err, sizeof(err));
	if (!inst)
		goto out;
	switch (engine_instance_run(inst, "_start", err, sizeof(err))) {
	case ENGINE_OK: status = 0; break;
	case ENGINE_EXIT: status = (int)(ctx->exit_code & 0xff); break;
	case ENGINE_TRAP: status = 134; break;
	default: status = 125; break;
	}
out:
	if (err[0])
		fprintf(stderr, "embed_run: %s\n", err);
	fflush(stdout);
	engine_instance_free(inst);
	wasi_ctx_free(ctx);
	engine_module_free(mod);
	free(bytes);
	free(dir);
	return status;
}
