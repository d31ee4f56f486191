/* supervisor.c: the parent's side: one child per app, watched through a
 * pidfd so that a wall-clock budget, a crash or a CPU budget is noticed at
 * once and reported in one line; the parent never runs guest bytes. */
#include "clients/wasm/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clients/wasm/runner.h"

static volatile sig_atomic_t g_stop_sig;

static void on_stop(int sig)
{
	g_stop_sig = sig;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int supervisor_run(int (*fn)(void *), void *arg, const supervisor_opts *o)
{
	int status = 0, pidfd = -1, rc = 125;
	const char *why = NULL;
	struct sigaction sa = {.sa_handler = on_stop}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "orchard-wasm: fork: %s\n", strerror(errno));
		return 125;
	}
	if (pid == 0) {
		/* If the supervisor dies (even by SIGKILL), the app goes with it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(125);
		exit(fn(arg));
	}
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	uint64_t deadline = o->timeout_ms ? mono_ms() + o->timeout_ms : 0;
	bool killed_for_time = false;
	for (;;) {
		int wait_ms = -1;
		if (deadline) {
			uint64_t now = mono_ms();
			wait_ms = now >= deadline ? 0 : (int)(deadline - now < 60000 ? deadline - now : 60000);
		}
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			int r = poll(&p, 1, wait_ms);
			if (r > 0)
				break;
		} else {
			/* No pidfd (old kernel): poll the child every 10 ms. */
			if (waitpid(pid, &status, WNOHANG) == pid)
				goto reaped;
			usleep(10000);
		}
		if (g_stop_sig) {
			/* Pass the stop on, then make sure. */
			kill(pid, SIGTERM);
			usleep(100000);
			kill(pid, SIGKILL);
			break;
		}
		if (deadline && mono_ms() >= deadline) {
			kill(pid, SIGKILL);
			killed_for_time = true;
			break;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
reaped:
	if (WIFEXITED(status)) {
		rc = WEXITSTATUS(status);
		goto out;
	}
	int sig = WTERMSIG(status);
	rc = 128 + sig;
	char buf[160];
	if (killed_for_time) {
		snprintf(buf, sizeof(buf), "wall-clock budget of %.3g s exceeded",
		         (double)o->timeout_ms / 1000.0);
		rc = RUNNER_EXIT_BUDGET;
	} else if (sig == SIGXCPU || (sig == SIGKILL && o->cpu_seconds && !g_stop_sig)) {
		snprintf(buf, sizeof(buf), "CPU budget of %llu s exceeded", (unsigned long long)o->cpu_seconds);
		rc = RUNNER_EXIT_BUDGET;
	} else if (sig == SIGSYS) {
		snprintf(buf, sizeof(buf), "a system call outside the sandbox was blocked (SIGSYS)");
	} else if (g_stop_sig) {
		snprintf(buf, sizeof(buf), "stopped by %s", strsignal(g_stop_sig));
	} else {
		snprintf(buf, sizeof(buf), "runtime killed by signal %d (%s)", sig, strsignal(sig));
	}
	why = buf;
	fprintf(stderr, "orchard-wasm: %s\n", why);
out:
	if (pidfd >= 0)
		close(pidfd);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}
