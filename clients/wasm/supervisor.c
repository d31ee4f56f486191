/* supervisor.c: the parent's side: one child per app, watched through a
 * pidfd so that a wall-clock budget, a crash or a CPU budget is noticed at
 * once and reported in one line; the parent never runs guest bytes. */
#include "clients/wasm/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clients/wasm/runner.h"

struct supervisor_child {
	pid_t pid;
	int pidfd; /* -1 without pidfd_open (old kernels): we poll waitpid */
	uint64_t deadline_ms;
	uint64_t cpu_seconds;
	uint64_t timeout_ms;
	bool killed_for_time;
	bool stopped;
	bool reaped;
	int wstatus;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

supervisor_child *supervisor_spawn(int (*fn)(void *), void *arg, const supervisor_opts *o)
{
	supervisor_child *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	fflush(NULL); /* nothing buffered may be written twice */
	pid_t parent = getpid();
	ch->pid = fork();
	if (ch->pid < 0) {
		free(ch);
		return NULL;
	}
	if (ch->pid == 0) {
		/* If the supervisor dies (even by SIGKILL), the app goes with it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(RUNNER_EXIT_MODULE);
		exit(fn(arg));
	}
	ch->pidfd = (int)syscall(SYS_pidfd_open, ch->pid, 0);
	ch->timeout_ms = o->timeout_ms;
	ch->cpu_seconds = o->cpu_seconds;
	ch->deadline_ms = o->timeout_ms ? mono_ms() + o->timeout_ms : 0;
	return ch;
}

pid_t supervisor_pid(const supervisor_child *ch)
{
	return ch->pid;
}

int supervisor_fd(const supervisor_child *ch)
{
	return ch->pidfd;
}

/* Turns the reaped wait status into an exit status and a reason. */
static int status_decode(const supervisor_child *ch, char *why, size_t whylen)
{
	int st = ch->wstatus;
	if (why && whylen)
		why[0] = '\0';
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	int sig = WTERMSIG(st);
	int rc = 128 + sig;
	char buf[160];
	if (ch->killed_for_time) {
		snprintf(buf, sizeof(buf), "wall-clock budget of %.3g s exceeded",
			 (double)ch->timeout_ms / 1000.0);
		rc = RUNNER_EXIT_BUDGET;
	} else if (!ch->stopped && (sig == SIGXCPU || (sig == SIGKILL && ch->cpu_seconds))) {
		/* RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one. */
		snprintf(buf, sizeof(buf), "CPU budget of %llu s exceeded",
			 (unsigned long long)ch->cpu_seconds);
		rc = RUNNER_EXIT_BUDGET;
	} else if (sig == SIGSYS) {
		snprintf(buf, sizeof(buf),
			 "a system call outside the sandbox was blocked (SIGSYS)");
	} else if (ch->stopped) {
		snprintf(buf, sizeof(buf), "stopped by %s", strsignal(sig));
	} else {
		snprintf(buf, sizeof(buf), "runtime killed by signal %d (%s)", sig, strsignal(sig));
	}
	if (why && whylen)
		snprintf(why, whylen, "%s", buf);
	return rc;
}

static bool try_reap(supervisor_child *ch)
{
	if (ch->reaped)
		return true;
	pid_t r;
	do
		r = waitpid(ch->pid, &ch->wstatus, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == ch->pid || (r < 0 && errno == ECHILD)) {
		ch->reaped = true;
		return true;
	}
	return false;
}

int supervisor_wait(supervisor_child *ch, int timeout_ms, int *status, char *why, size_t whylen)
{
	uint64_t until = timeout_ms < 0 ? 0 : mono_ms() + (uint64_t)timeout_ms;
	for (;;) {
		if (try_reap(ch)) {
			*status = status_decode(ch, why, whylen);
			return 1;
		}
		uint64_t now = mono_ms();
		if (ch->deadline_ms && now >= ch->deadline_ms && !ch->killed_for_time) {
			kill(ch->pid, SIGKILL);
			ch->killed_for_time = true;
			continue;
		}
		if (timeout_ms >= 0 && now >= until)
			return 0;
		/* Sleep until the child ends, the budget runs out or our caller's
		 * timeout passes, whichever is first. */
		uint64_t next = timeout_ms < 0 ? UINT64_MAX : until;
		if (ch->deadline_ms && !ch->killed_for_time && ch->deadline_ms < next)
			next = ch->deadline_ms;
		int ms = next == UINT64_MAX ? -1 : (int)(next - now > 60000 ? 60000 : next - now);
		if (ch->pidfd >= 0) {
			struct pollfd p = {.fd = ch->pidfd, .events = POLLIN};
			if (poll(&p, 1, ms) < 0 && errno == EINTR)
				return 0; /* a signal for our caller: let it look */
		} else {
			usleep(ms < 0 || ms > 10 ? 10000 : (useconds_t)ms * 1000);
		}
	}
}

void supervisor_stop(supervisor_child *ch, int grace_ms)
{
	int st;
	char why[8];
	if (!ch || ch->reaped)
		return;
	ch->stopped = true;
	kill(ch->pid, SIGTERM);
	if (supervisor_wait(ch, grace_ms, &st, why, sizeof(why)) == 0)
		kill(ch->pid, SIGKILL);
}

void supervisor_free(supervisor_child *ch)
{
	if (!ch)
		return;
	if (!ch->reaped) {
		kill(ch->pid, SIGKILL);
		while (waitpid(ch->pid, &ch->wstatus, 0) < 0 && errno == EINTR)
			;
	}
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	free(ch);
}

static volatile sig_atomic_t g_stop_sig;

static void on_stop(int sig)
{
	g_stop_sig = sig;
}

int supervisor_run(int (*fn)(void *), void *arg, const supervisor_opts *o)
{
	int status = RUNNER_EXIT_MODULE;
	char why[200] = "";
	struct sigaction sa = {.sa_handler = on_stop}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	supervisor_child *ch = supervisor_spawn(fn, arg, o);
	if (!ch) {
		fprintf(stderr, "orchard-wasm: fork: %s\n", strerror(errno));
		return RUNNER_EXIT_MODULE;
	}
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	while (supervisor_wait(ch, -1, &status, why, sizeof(why)) == 0) {
		if (g_stop_sig)
			supervisor_stop(ch, 100); /* pass the stop on, then make sure */
	}
	if (why[0])
		fprintf(stderr, "orchard-wasm: %s\n", why);
	supervisor_free(ch);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return status;
}
