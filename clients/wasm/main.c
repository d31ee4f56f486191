/* main.c: the orchard-wasm command line: `run` an app with the capabilities
 * named on the command line, or `validate` a module without running it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/wasm/aot_compile.h"
#include "clients/wasm/runner.h"
#include "clients/wasm/supervisor.h"

#define DEFAULT_MAX_MEMORY_MIB 256u
#define ARGS_MAX 256

static void usage(FILE *to)
{
	fputs("usage: orchard-wasm run [--dir HOST[:GUEST]]... [--env KEY=VALUE]...\n"
	      "                        [--listen [ADDR:]PORT]... [--connect HOST:PORT]...\n"
	      "                        [--max-memory MiB] [--cpu-seconds N] [--timeout SECONDS]\n"
	      "                        MODULE.wasm|MODULE.cwasm [ARGS...]\n"
	      "       orchard-wasm validate MODULE.wasm|MODULE.cwasm\n"
	      "       orchard-wasm compile MODULE.wasm -o MODULE.cwasm [--target TRIPLE] [-O0..-O3]\n"
	      "See docs/wasm.md.\n",
	      to);
}

static int num_parse(const char *s, double max, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* compile MODULE.wasm -o OUT [--target TRIPLE] [-O0..-O3], options in any
 * order. */
static int compile_main(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *target = NULL;
	int opt_level = 3;
	char err[1024];
	for (int i = 2; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] == 'O' && argv[i][2] >= '0' &&
		    argv[i][2] <= '3' && !argv[i][3]) {
			opt_level = argv[i][2] - '0';
		} else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--target")) &&
			   i + 1 < argc) {
			if (argv[i][1] == 'o')
				out = argv[++i];
			else
				target = argv[++i];
		} else if (argv[i][0] != '-' && !in) {
			in = argv[i];
		} else {
			usage(stderr);
			return RUNNER_EXIT_USAGE;
		}
	}
	if (!in || !out) {
		usage(stderr);
		return RUNNER_EXIT_USAGE;
	}
	int rc = aot_compile(in, out, target, opt_level, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "orchard-wasm: %s\n", err);
	return rc;
}

static int run_child(void *arg)
{
	return runner_main(arg);
}

int main(int argc, char **argv)
{
	static runner_opts o; /* large (grants); static keeps it off the stack */
	static char *envp[ARGS_MAX + 1];
	static char *gargv[ARGS_MAX + 1];
	uint32_t nenv = 0, nargs = 0;
	double timeout = 0, cpu = 0, mem = DEFAULT_MAX_MEMORY_MIB;
	char err[512];

	if (argc < 2) {
		usage(stderr);
		return RUNNER_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "compile"))
		return compile_main(argc, argv);
	if (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "validate") != 0) {
		fprintf(stderr, "orchard-wasm: unknown command %s\n", argv[1]);
		usage(stderr);
		return RUNNER_EXIT_USAGE;
	}
	o.validate_only = !strcmp(argv[1], "validate");
	o.allow_native = true; /* whoever runs the tool trusts the file named */
	int i = 2;
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || o.validate_only)
			break;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!v) {
			fprintf(stderr, "orchard-wasm: %s needs a value\n", a);
			return RUNNER_EXIT_USAGE;
		}
		i++;
		if (!strcmp(a, "--dir")) {
			if (o.ndirs >= RUNNER_DIRS_MAX) {
				fprintf(stderr, "orchard-wasm: too many --dir\n");
				return RUNNER_EXIT_USAGE;
			}
			/* HOST[:GUEST]; without GUEST the folder keeps its name. */
			char *copy = argv[i];
			char *colon = strchr(copy, ':');
			o.dirs[o.ndirs].host = copy;
			o.dirs[o.ndirs].guest = copy;
			if (colon) {
				*colon = '\0';
				o.dirs[o.ndirs].guest = colon + 1;
			}
			o.ndirs++;
		} else if (!strcmp(a, "--env")) {
			if (!strchr(v, '=') || nenv >= ARGS_MAX) {
				fprintf(stderr, "orchard-wasm: --env wants KEY=VALUE\n");
				return RUNNER_EXIT_USAGE;
			}
			envp[nenv++] = argv[i];
		} else if (!strcmp(a, "--listen")) {
			if (grants_add_listen(&o.grants, v) < 0) {
				fprintf(stderr,
					"orchard-wasm: --listen %s: want [ADDR:]PORT with a numeric ADDR\n",
					v);
				return RUNNER_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--connect")) {
			if (grants_add_connect(&o.grants, v, err, sizeof(err)) < 0) {
				fprintf(stderr, "orchard-wasm: %s\n", err);
				return RUNNER_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--max-memory")) {
			if (num_parse(v, 4096, &mem) < 0 || mem < 1) {
				fprintf(stderr,
					"orchard-wasm: --max-memory wants MiB between 1 and 4096\n");
				return RUNNER_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--cpu-seconds")) {
			if (num_parse(v, 1e6, &cpu) < 0 || cpu < 1) {
				fprintf(stderr,
					"orchard-wasm: --cpu-seconds wants a whole number of seconds >= 1\n");
				return RUNNER_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--timeout")) {
			if (num_parse(v, 1e7, &timeout) < 0) {
				fprintf(stderr, "orchard-wasm: --timeout wants seconds\n");
				return RUNNER_EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "orchard-wasm: unknown option %s\n", a);
			usage(stderr);
			return RUNNER_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return RUNNER_EXIT_USAGE;
	}
	o.module_path = argv[i];
	for (; i < argc && nargs < ARGS_MAX; i++)
		gargv[nargs++] = argv[i];
	o.argv = gargv;
	o.envp = envp;
	o.max_memory = (uint64_t)(mem * 1024 * 1024);
	o.cpu_seconds = (uint64_t)cpu;
	supervisor_opts so = {.timeout_ms = (uint64_t)(timeout * 1000),
			      .cpu_seconds = o.cpu_seconds,
			      .max_memory = o.max_memory};
	return supervisor_run(run_child, &o, &so);
}
