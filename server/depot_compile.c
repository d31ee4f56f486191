/* The depot's compiled forms (docs/depot.md): after each publish, a job
 * on the depot's own one-worker pool runs `orchard-wasm compile` (a child
 * process: wasm2c and the C compiler take seconds, never a request
 * thread's) for every target (server/depot_targets.c), and stores the
 * .cwasm with a statement signed by the depot key:
 *
 *   {"compiler":..., "cwasm":"sha256:...", "module":"sha256:...",
 *    "size":n, "target":"x86_64-linux-gnu", "type":"orchard-compiled/1"}
 *
 * in canonical form (depot_canonical, as manifests), Ed25519. The depot key
 * is made on first start under DATA_DIR/keys (mode 0600) and never leaves
 * this file; GET /depot/key serves its public half. A failed compilation
 * is recorded with its reason for the operator, and changes nothing else:
 * agents then run the interpreter. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/target.h"
#include "depot/depot.h"
#include "server/depot.h"
#include "server/depot_int.h"
#include "server/jobs.h"
#include "server/server.h"
#include "server/store/depot_compiled.h"

extern char **environ;

#define COMPILE_WALL_SECONDS 600	  /* a compiler that hangs is killed */
#define COMPILE_ERROR_MAX 300		  /* bytes of the compiler's reason kept */
#define CWASM_MAX ((size_t)512 << 20)	  /* a compiled form read back at most */
#define DEPOT_MODULE_READ_MAX 2147483647u /* substring's FOR is an int */

/* Loads DATA_DIR/keys/depot-ed25519.pem, or makes it (0600, O_EXCL: two
 * orchardd on one data folder end with one key). */
static EVP_PKEY *depot_key_ready(const char *data_dir)
{
	char dir[4096], path[4200];
	EVP_PKEY *key = NULL;
	char *pem;
	size_t len;
	int fd;

	if (snprintf(dir, sizeof dir, "%s/keys", data_dir) >= (int)sizeof dir)
		return NULL;
	snprintf(path, sizeof path, "%s/depot-ed25519.pem", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return NULL;
	for (int tries = 0; tries < 2 && key == NULL; tries++) {
		if ((pem = file_read(path, 1 << 16, &len)) != NULL) {
			BIO *b = BIO_new_mem_buf(pem, (int)len);

			key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
			BIO_free(b);
			OPENSSL_cleanse(pem, len);
			free(pem);
			if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
				EVP_PKEY_free(key);
				log_kv(LOG_ERROR, "the depot key is no Ed25519 private key", "path",
				       path, NULL);
				return NULL;
			}
			return key;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			if (errno == EEXIST)
				continue; /* another process made it: read theirs */
			return NULL;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		FILE *f = fdopen(fd, "w");
		int ok = key != NULL && f != NULL &&
			 PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;

		if (f != NULL)
			ok = (fclose(f) == 0) && ok;
		else
			close(fd);
		if (!ok) {
			unlink(path);
			EVP_PKEY_free(key);
			return NULL;
		}
		log_kv(LOG_INFO, "made the depot key", "path", path, NULL);
	}
	return key;
}

/* The compiler: --depot-compiler, or orchard-wasm beside orchardd. */
static char *compiler_path(const struct config *cfg)
{
	char self[4096], *slash;
	ssize_t n;

	if (cfg->depot_compiler != NULL)
		return strcmp(cfg->depot_compiler, "off") == 0 ? NULL : strdup(cfg->depot_compiler);
	n = readlink("/proc/self/exe", self, sizeof self - 32);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	memcpy(slash + 1, "orchard-wasm", sizeof "orchard-wasm"); /* room: readlink left 32 */
	return access(self, X_OK) == 0 ? strdup(self) : NULL;
}

int depot_start(struct server *srv)
{
	struct depot *d = calloc(1, sizeof *d);
	EVP_PKEY *pub = NULL;

	if (d != NULL)
		pthread_mutex_init(&d->lock, NULL);
	if (d == NULL || (d->key = depot_key_ready(srv->cfg.data_dir)) == NULL ||
	    (d->public_pem = depot_key_pem(d->key)) == NULL ||
	    (pub = depot_key_parse(d->public_pem, strlen(d->public_pem), d->key_id)) == NULL)
		goto fail;
	EVP_PKEY_free(pub);
	for (const char *t = srv->cfg.depot_compile_targets; *t != '\0';) {
		size_t n = strcspn(t, ", ");
		char name[DEPOT_TARGET_MAX + 1];

		if (n == 0) {
			t++;
			continue;
		}
		snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1),
			 t);
		if (strcmp(name, "host") == 0)
			snprintf(name, sizeof name, "%s", target_host());
		if (n > DEPOT_TARGET_MAX || !depot_target_ok(name) ||
		    d->ntargets == COMPILE_TARGETS_MAX) {
			log_kv(LOG_ERROR, "--depot-compile-targets: bad target or too many",
			       "target", name, NULL);
			goto fail;
		}
		memcpy(d->targets[d->ntargets++], name, strlen(name) + 1);
		t += n;
	}
	d->compiler = compiler_path(&srv->cfg);
	if (d->compiler == NULL)
		log_kv(LOG_WARN, "depot: no compiler, packages get no compiled forms", NULL);
	else if ((d->jobs = jobs_start(1, 1024)) == NULL)
		goto fail;
	srv->depot = d;
	if (d->compiler != NULL) {
		char tmp[4200];

		snprintf(tmp, sizeof tmp, "%s/tmp", srv->cfg.data_dir);
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			log_kv(LOG_WARN, "depot: cannot make the compile folder", "path", tmp,
			       NULL);
		depot_requeue(srv);
	}
	return 0;
fail:
	log_kv(LOG_ERROR, "depot: cannot start (key or compiler settings)", NULL);
	srv->depot = d;
	depot_stop(srv);
	return -1;
}

void depot_stop(struct server *srv)
{
	struct depot *d = srv->depot;

	if (d == NULL)
		return;
	/* A compilation takes seconds: shutdown does not wait for it. The
	 * killed one stays "compiling" and queued ones are not started: the
	 * next start queues both again (depot_requeue). */
	atomic_store(&d->stopping, 1);
	int pid = atomic_load(&d->child);
	if (pid > 0)
		kill(pid, SIGKILL);
	if (d->jobs != NULL)
		jobs_stop(d->jobs);
	EVP_PKEY_free(d->key);
	free(d->public_pem);
	free(d->compiler);
	pthread_mutex_destroy(&d->lock);
	free(d);
	srv->depot = NULL;
}

const char *depot_public_key(const struct server *srv, const char **key_id)
{
	*key_id = srv->depot->key_id;
	return srv->depot->public_pem;
}

/* ---- the job ------------------------------------------------------------------- */

struct compile_job {
	struct server *srv;
	char module[65];
	char target[DEPOT_TARGET_MAX + 1];
	struct store_depot_compiled row;
	const char *sig_hex;
	const uint8_t *data;
	size_t len;
	uint8_t *wasm; /* the module, read back from the store */
	size_t wasm_len;
};

static enum store_qs upsert_cb(struct store_conn *c, void *cls)
{
	struct compile_job *j = cls;

	return store_upsert_depot_compiled(c, &j->row, j->sig_hex, j->data, j->len);
}

static enum store_qs module_cb(struct store_conn *c, void *cls)
{
	struct compile_job *j = cls;

	free(j->wasm);
	j->wasm = NULL;
	return store_select_depot_module(c, j->module, 0, DEPOT_MODULE_READ_MAX, &j->wasm,
					 &j->wasm_len);
}

/* Writes the row's state (no bytes unless ready). */
static enum store_qs record(struct compile_job *j, const char *state, const char *error)
{
	j->row.module_sha256 = j->module;
	j->row.target = j->target;
	j->row.state = (char *)state;
	j->row.error = (char *)error;
	return store_run(j->srv->store, upsert_cb, j);
}

static int write_all(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t w = 0;

	if (fd < 0)
		return -1;
	for (size_t off = 0; off < len; off += (size_t)w)
		if ((w = write(fd, p + off, len - off)) <= 0)
			break;
	return close(fd) == 0 && w >= 0 ? 0 : -1;
}

/* Runs the compiler with stdout and stderr into dir/log; its exit status,
 * or -1 when it could not run or was killed for taking too long. */
static int run_compiler(struct depot *d, const char *dir, const char *target, int level)
{
	const char *compiler = d->compiler;
	char in[4200], out[4200], log[4200], opt[8];
	const char *argv[10];
	posix_spawn_file_actions_t fa;
	int n = 0, status;
	pid_t pid;

	snprintf(in, sizeof in, "%s/module.wasm", dir);
	snprintf(out, sizeof out, "%s/module.cwasm", dir);
	snprintf(log, sizeof log, "%s/log", dir);
	snprintf(opt, sizeof opt, "-O%d", level);
	argv[n++] = compiler;
	argv[n++] = "compile";
	argv[n++] = in;
	argv[n++] = "-o";
	argv[n++] = out;
	argv[n++] = opt;
	if (strcmp(target, target_host()) != 0) {
		argv[n++] = "--target";
		argv[n++] = target;
	}
	argv[n] = NULL;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* no socket of ours in the compiler */
	n = posix_spawn(&pid, compiler, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (n != 0)
		return -1;
	atomic_store(&d->child, pid);
	if (atomic_load(&d->stopping)) /* depot_stop ran before the pid was known */
		kill(pid, SIGKILL);
	for (long waited = 0;; waited += 20) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if ((r < 0 && errno != EINTR) || waited > COMPILE_WALL_SECONDS * 1000L) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			atomic_store(&d->child, 0);
			return -1;
		}
		nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
	}
	atomic_store(&d->child, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The compiler's reason: the log's last non-empty line, bounded. */
static void compile_reason(const char *dir, int rc, char *why, size_t max)
{
	char path[4200], *log, *line = NULL;
	size_t len;

	snprintf(path, sizeof path, "%s/log", dir);
	snprintf(why, max,
		 rc < 0 ? "the compiler did not run or took too long"
			: "the compiler exited with status %d",
		 rc);
	if ((log = file_read(path, 1 << 20, &len)) == NULL)
		return;
	for (char *p = log, *nl; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		if (*p != '\0')
			line = p;
		if (nl == NULL)
			break;
	}
	if (line != NULL)
		snprintf(why, max, "%s", line);
	free(log);
}

/* The .cwasm header's toolchain lines (wabt, abi, cc, flags) and target. */
static int cwasm_header(const char *cw, size_t len, char *compiler, size_t max, char *target,
			size_t tmax)
{
	const char *p = cw, *end = cw + len;
	size_t used = 0;

	*compiler = *target = '\0';
	if (len < 16 || memcmp(cw, "orchard-cwasm 1\n", 16) != 0)
		return -1;
	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (nl == NULL)
			return -1;
		n = (size_t)(nl - p);
		if (n > 7 && memcmp(p, "target ", 7) == 0) {
			snprintf(target, tmax, "%.*s", (int)(n - 7), p + 7);
		} else if ((n > 5 && memcmp(p, "wabt ", 5) == 0) ||
			   (n > 4 && memcmp(p, "abi ", 4) == 0) ||
			   (n > 3 && memcmp(p, "cc ", 3) == 0) ||
			   (n > 6 && memcmp(p, "flags ", 6) == 0)) {
			if (used + n + 2 > max)
				return -1;
			if (used > 0)
				compiler[used++] = '\n';
			memcpy(compiler + used, p, n);
			compiler[used += n] = '\0';
		}
		p = nl + 1;
	}
	return *compiler != '\0' && *target != '\0' ? 0 : -1;
}

/* Signs the statement over j's compiled form cw (len bytes) and records
 * it ready; a refusal reason in why otherwise. */
static int sign_and_store(struct compile_job *j, const uint8_t *cw, size_t len, char *why,
			  size_t wmax)
{
	struct depot *d = j->srv->depot;
	char compiler[2048], target[DEPOT_TARGET_MAX + 8], cwhex[65], cwref[72], modref[72];
	char sighex[2 * DEPOT_SIG_LEN + 1], *stmt = NULL;
	uint8_t digest[32], sig[DEPOT_SIG_LEN];
	size_t slen;
	json_t *doc;
	int rc = -1;

	if (cwasm_header((const char *)cw, len, compiler, sizeof compiler, target, sizeof target) !=
	    0) {
		snprintf(why, wmax, "the compiler's output is no .cwasm");
		return -1;
	}
	if (strcmp(target, j->target) != 0) {
		snprintf(why, wmax, "the compiler made %.64s, not %s", target, j->target);
		return -1;
	}
	SHA256(cw, len, digest);
	hex_encode(digest, 32, cwhex);
	snprintf(cwref, sizeof cwref, "sha256:%s", cwhex);
	snprintf(modref, sizeof modref, "sha256:%s", j->module);
	doc = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "compiler", compiler, "cwasm", cwref,
			"module", modref, "size", (json_int_t)len, "target", j->target, "type",
			"orchard-compiled/1");
	if (doc == NULL || (stmt = depot_canonical(doc, &slen)) == NULL ||
	    depot_sign(d->key, (const uint8_t *)stmt, slen, sig) != 0) {
		snprintf(why, wmax, "cannot sign the compiled form");
		goto out;
	}
	hex_encode(sig, DEPOT_SIG_LEN, sighex);
	j->row.compiler = compiler;
	j->row.cwasm_sha256 = cwhex;
	j->row.statement = stmt;
	j->row.key_id = d->key_id;
	j->sig_hex = sighex;
	j->data = cw;
	j->len = len;
	rc = record(j, "ready", NULL) >= 0 ? 0 : -1;
	if (rc != 0)
		snprintf(why, wmax, "cannot store the compiled form");
	memset(&j->row, 0, sizeof j->row);
	j->sig_hex = NULL;
	j->data = NULL;
	j->len = 0;
out:
	free(stmt);
	json_decref(doc);
	return rc;
}

static void compile_run(void *cls)
{
	struct compile_job *j = cls;
	struct depot *d = j->srv->depot;
	char dir[4096], path[4200], why[COMPILE_ERROR_MAX + 1] = "";
	uint8_t *cw = NULL;
	size_t cwlen = 0;
	enum store_qs qs;
	int rc;

	if (atomic_load(&d->stopping))
		return; /* shutting down: not started, no row written */
	if ((qs = record(j, "compiling", NULL)) == STORE_NONE)
		return; /* compiled already (a module several packages share) */
	if (qs < 0 || store_run(j->srv->store, module_cb, j) != STORE_ONE) {
		log_kv(LOG_WARN, "depot: cannot start a compilation", "module", j->module, NULL);
		record(j, "failed", "the database was not available");
		return;
	}
	/* Under the data folder: a compiler orphaned by a kill -9 of orchardd
	 * leaves its files there, not in a shared /tmp. */
	snprintf(dir, sizeof dir, "%s/tmp/compile.XXXXXX", j->srv->cfg.data_dir);
	if (mkdtemp(dir) == NULL) {
		record(j, "failed", "no temporary folder");
		return;
	}
	snprintf(path, sizeof path, "%s/module.wasm", dir);
	if (write_all(path, j->wasm, j->wasm_len) != 0) {
		snprintf(why, sizeof why, "cannot write the module (disk full?)");
	} else if ((rc = run_compiler(d, dir, j->target, (int)j->srv->cfg.depot_compile_level)) !=
		   0) {
		compile_reason(dir, rc, why, sizeof why);
	} else {
		snprintf(path, sizeof path, "%s/module.cwasm", dir);
		if ((cw = (uint8_t *)file_read(path, CWASM_MAX, &cwlen)) == NULL)
			snprintf(why, sizeof why, "the compiler left no .cwasm");
		else
			sign_and_store(j, cw, cwlen, why, sizeof why);
	}
	free(cw);
	for (const char *f = "module.wasm\0module.cwasm\0log\0"; *f; f += strlen(f) + 1) {
		snprintf(path, sizeof path, "%s/%s", dir, f);
		unlink(path);
	}
	rmdir(dir);
	if (why[0] != '\0' && atomic_load(&d->stopping)) {
		/* Not the module's fault: left "compiling", the next start resumes it. */
		log_kv(LOG_INFO, "depot: compilation stopped by shutdown", "module", j->module,
		       NULL);
	} else if (why[0] != '\0') {
		log_kv(LOG_WARN, "depot: compilation failed", "module", j->module, "target",
		       j->target, "reason", why, NULL);
		record(j, "failed", why);
	} else {
		log_kv(LOG_INFO, "depot: compiled", "module", j->module, "target", j->target, NULL);
	}
}

static void compile_done(void *cls)
{
	struct compile_job *j = cls;

	free(j->wasm);
	free(j);
}

void depot_queue_compile(struct server *srv, const char *module, const char *target)
{
	struct compile_job *j = calloc(1, sizeof *j);

	if (j == NULL)
		return;
	j->srv = srv;
	snprintf(j->module, sizeof j->module, "%s", module);
	snprintf(j->target, sizeof j->target, "%s", target);
	if (jobs_submit(srv->depot->jobs, compile_run, compile_done, j) != 0) {
		log_kv(LOG_WARN, "depot: the compile queue is full", "module", j->module, NULL);
		free(j);
	}
}
