/* aot_compile.c: `orchard-wasm compile`: validate, translate with wasm2c's
 * code, build a shared object with the C compiler, wrap it in a .cwasm.
 *
 * Reproducible: the compiler runs in a fresh folder on relative names, with
 * no debug info, no build id and a fixed random seed; the header records
 * only what went in (module digest, wabt, compiler, target, flags). */
#include "clients/wasm/aot_compile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients/wasm/aot_abi.h"
#include "clients/wasm/aot_translate.h"
#include "clients/wasm/cwasm.h"
#include "clients/wasm/engine.h"
#include "clients/wasm/wasi.h"
#include "common/file.h"
#include "common/target.h"

#define MODULE_MAX_BYTES (256u << 20)
#define SO_MAX_BYTES (1024u << 20)
#define WASM_RT_DIR "/usr/share/wabt/wasm2c" /* Debian's wabt: wasm-rt-impl.[ch] */

/* Fixed, and recorded in the file after the optimisation level. -O3 is the
 * default: measured here, gcc 12 at -O2 left the checksum loop 2.2x slower
 * than native clang-14, at -O3 on a par (both fib and checksum,
 * bench/wasm.sh); -O1 compiles about three times faster, for development. Bounds are explicit
 * checks and stack depth is not counted (engine_aot.c says why). No sibling-call optimisation:
 * WebAssembly has no tail calls, so unbounded recursion must exhaust the stack
 * and trap, not become an endless loop. */
static const char *const cc_flags[] = {
	"-fPIC",
	"-I" WASM_RT_DIR,
	"-shared",
	"-fvisibility=hidden",
	"-g0",
	"-w",
	"-frandom-seed=orchard",
	"-fno-optimize-sibling-calls",
	"-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
	"-DWASM_RT_USE_STACK_DEPTH_COUNT=0",
	"-Wl,--build-id=none",
	"-Wl,-z,noexecstack",
	"-Wl,-z,now",
};
#define NFLAGS (sizeof(cc_flags) / sizeof(cc_flags[0]))

/* The files the compiler sees, in the temporary folder. */
static const char *const tmp_files[] = {"app.c",     "app.h", "glue.c", "aot_glue.c",
					"aot_abi.h", "rt.c",  "app.so", "cc.err"};

static const char rt_c[] =
	"/* rt.c: wasm-rt with its allocators renamed (aot_glue.c caps them) */\n"
	"#define wasm_rt_allocate_memory wasm_rt_allocate_memory_impl\n"
	"#define wasm_rt_allocate_funcref_table "
	"wasm_rt_allocate_funcref_table_impl\n"
	"#include \"wasm-rt-impl.c\"\n";

static int fd_write_all(int fd, const void *p, size_t len)
{
	const char *b = p;
	while (len > 0) {
		ssize_t n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes path whole, fsynced; on failure nothing stays at path. */
static int file_write(const char *path, const void *p, size_t len, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || fd_write_all(fd, p, len) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	return 0;
}

/* Runs argv in dir with stdout to out_fd (or /dev/null) and stderr to
 * err_path; returns its exit status, or -1 when it could not start. */
static int run_tool(char *const argv[], const char *dir, int out_fd, const char *err_path)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int o = out_fd >= 0 ? out_fd : open("/dev/null", O_WRONLY);
		if (e < 0 || o < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || chdir(dir) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The compiler's first "error" line (else its last line), for a one-line reason. */
static void error_line(const char *path, char *out, size_t cap)
{
	size_t len = 0;
	char *s = file_read(path, 1u << 20, &len);
	out[0] = '\0';
	if (!s)
		return;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	char *line = strstr(s, "error");
	if (line)
		while (line > s && line[-1] != '\n')
			line--;
	else
		line = strrchr(s, '\n') ? strrchr(s, '\n') + 1 : s;
	line[strcspn(line, "\n")] = '\0';
	snprintf(out, cap, "%s", line);
	free(s);
}

/* The compiler's first --version line. */
static int cc_version(const char *cc, const char *dir, char *out, size_t cap, char *err,
		      size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/cc.err", dir);
	snprintf(out, cap, "%s", "");
	int fds[2];
	if (pipe(fds) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	char *argv[] = {(char *)cc, "--version", NULL};
	int rc = run_tool(argv, dir, fds[1], path);
	close(fds[1]);
	ssize_t n = read(fds[0], out, cap - 1);
	close(fds[0]);
	if (rc != 0 || n <= 0) {
		snprintf(err, errlen, "C compiler %s not found or not working (exit %d)", cc, rc);
		return -1;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static void tmp_remove(const char *dir)
{
	char path[4200];
	for (size_t i = 0; i < sizeof(tmp_files) / sizeof(tmp_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tmp_files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static int sources_write(const char *dir, const aot_sources *src, char *err, size_t errlen)
{
	const char *texts[] = {src->app_c,     src->app_h,    src->glue_c,
			       aot_glue_c_src, aot_abi_h_src, rt_c};
	char path[4200];
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tmp_files[i]);
		if (file_write(path, texts[i], strlen(texts[i]), err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Translates in a child process that writes the C files into dir: libwabt
 * 1.0.32's C writer aborts on what it does not support (SIMD, for one), and
 * that must be a clean refusal, not the end of orchard-wasm. Returns 0, or an
 * exit status with the reason in err. */
static int translate_in_child(char *wasm, size_t len, const char *dir, char *err, size_t errlen)
{
	char why[1024] = "";
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return AOT_COMPILE_TOOLCHAIN;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return AOT_COMPILE_TOOLCHAIN;
	}
	if (pid == 0) {
		/* The reason, or whatever wabt prints before it aborts, goes up
		 * the pipe (not a file: the disk may be the problem). */
		aot_sources src = {0};
		size_t nfuncs = 0;
		char msg[1024];
		if (dup2(fds[1], 2) < 0)
			_exit(AOT_COMPILE_TOOLCHAIN);
		const engine_host_func *funcs = wasi_host_funcs(&nfuncs);
		int rc = AOT_COMPILE_MODULE;
		if (aot_translate((const uint8_t *)wasm, len, funcs, nfuncs, &src, msg,
				  sizeof(msg)) == 0)
			rc = sources_write(dir, &src, msg, sizeof(msg)) == 0
				     ? 0
				     : AOT_COMPILE_TOOLCHAIN;
		if (rc != 0)
			dprintf(2, "%s\n", msg);
		aot_sources_free(&src);
		/* This process's copy of the parent's buffer: freed so that a leak
		 * checker that follows the fork (valgrind) finds nothing lost. */
		free(wasm);
		_exit(rc);
	}
	close(fds[1]);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fds[0], why + got, sizeof(why) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == sizeof(why) - 1)
			break;
	}
	close(fds[0]);
	why[got] = '\0';
	while (got > 0 && why[got - 1] == '\n')
		why[--got] = '\0';
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return AOT_COMPILE_TOOLCHAIN;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	const char *line = strrchr(why, '\n') ? strrchr(why, '\n') + 1 : why;
	if (WIFSIGNALED(st)) {
		snprintf(err, errlen,
			 "wasm2c (wabt %s) cannot translate this module (it stopped with signal "
			 "%d: %s)",
			 cwasm_wabt_version(), WTERMSIG(st), line[0] ? line : "no message");
		return AOT_COMPILE_MODULE;
	}
	snprintf(err, errlen, "%s", line[0] ? line : "translation failed");
	return WEXITSTATUS(st) == AOT_COMPILE_MODULE ? AOT_COMPILE_MODULE : AOT_COMPILE_TOOLCHAIN;
}

int aot_compile(const char *in_path, const char *out_path, const char *target, int opt_level,
		char *err, size_t errlen)
{
	int status = AOT_COMPILE_TOOLCHAIN;
	size_t len = 0, so_len = 0, out_len = 0;
	char *wasm = NULL, *so = NULL, dir[4096] = "", path[4200], why[512];
	uint8_t *file = NULL;
	engine_module *mod = NULL;
	cwasm_info info = {0};

	const char *host = target_host();
	if (!target)
		target = host;
	if (opt_level < 0 || opt_level > 3)
		opt_level = 3;
	char opt[4] = {'-', 'O', (char)('0' + opt_level), '\0'};
	char cc_default[128];
	snprintf(cc_default, sizeof(cc_default), "%s-gcc", target);
	const char *cc = getenv("ORCHARD_WASM_CC");
	if (!cc || !*cc)
		cc = strcmp(target, host) == 0 ? "cc" : cc_default;

	wasm = file_read(in_path, MODULE_MAX_BYTES, &len);
	if (!wasm) {
		snprintf(err, errlen, "%s: cannot read (missing, empty or over %u bytes)", in_path,
			 MODULE_MAX_BYTES);
		status = AOT_COMPILE_MODULE;
		goto out;
	}
	/* The interpreter's validation first, so both engines refuse a module
	 * with the same words. */
	mod = engine_module_load((const uint8_t *)wasm, len, err, errlen);
	if (!mod) {
		status = AOT_COMPILE_MODULE;
		goto out;
	}
	engine_module_free(mod); /* only its verdict was wanted, and before the fork */
	mod = NULL;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/orchard-cwasm.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "mkdtemp %s: %s", dir, strerror(errno));
		dir[0] = '\0';
		goto out;
	}
	status = translate_in_child(wasm, len, dir, err, errlen);
	if (status != 0)
		goto out;
	status = AOT_COMPILE_TOOLCHAIN;
	if (cc_version(cc, dir, info.cc, sizeof(info.cc), err, errlen) < 0)
		goto out;

	char *argv[NFLAGS + 10];
	size_t n = 0;
	argv[n++] = (char *)cc;
	argv[n++] = opt;
	for (size_t i = 0; i < NFLAGS; i++)
		argv[n++] = (char *)cc_flags[i];
	const char *tail[] = {"-o", "app.so", "app.c", "glue.c", "rt.c", "-lm", NULL};
	for (size_t i = 0; tail[i]; i++)
		argv[n++] = (char *)tail[i];
	argv[n] = NULL;
	snprintf(path, sizeof(path), "%s/cc.err", dir);
	int rc = run_tool(argv, dir, -1, path);
	if (rc != 0) {
		error_line(path, why, sizeof(why));
		snprintf(err, errlen, "%s failed (exit %d): %s", cc, rc, why);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/app.so", dir);
	so = file_read(path, SO_MAX_BYTES, &so_len);
	if (!so) {
		snprintf(err, errlen, "%s produced no shared object", cc);
		goto out;
	}

	if (cwasm_sha256_hex((const uint8_t *)wasm, len, info.module_sha256) < 0) {
		snprintf(err, errlen, "SHA-256 failed");
		goto out;
	}
	snprintf(info.wabt, sizeof(info.wabt), "%s", cwasm_wabt_version());
	info.abi = AOT_ABI_VERSION;
	snprintf(info.target, sizeof(info.target), "%s", target);
	size_t fl = (size_t)snprintf(info.flags, sizeof(info.flags), "%s", opt);
	for (size_t i = 0; i < NFLAGS; i++)
		fl += (size_t)snprintf(info.flags + fl, sizeof(info.flags) - fl, " %s",
				       cc_flags[i]);
	info.payload = (const uint8_t *)so;
	info.payload_len = so_len;
	if (cwasm_build(&info, &file, &out_len, err, errlen) < 0)
		goto out;

	/* Whole or nothing: a temporary name beside the output, then rename. */
	snprintf(path, sizeof(path), "%s.tmp%ld", out_path, (long)getpid());
	if (file_write(path, file, out_len, err, errlen) < 0)
		goto out;
	if (rename(path, out_path) < 0) {
		snprintf(err, errlen, "%s: %s", out_path, strerror(errno));
		unlink(path);
		goto out;
	}
	status = 0;
out:
	if (dir[0])
		tmp_remove(dir);
	free(file);
	free(so);
	engine_module_free(mod);
	free(wasm);
	return status;
}
