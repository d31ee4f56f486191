/* sandbox.c: the child's last step before guest code: rlimits, no new
 * privileges, and a libseccomp allow-list; anything else kills the process.
 *
 * Under AddressSanitizer (the build-san pass) the sanitizer runtime needs a
 * few more calls for its reports and its leak check at exit (reading
 * /proc/self/maps, sigaltstack, clone+ptrace for LeakSanitizer's
 * stop-the-world). We allow exactly those, only in that build; the filter
 * itself is never switched off. */
#include "clients/wasm/sandbox.h"

#include <errno.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SAN 1
#endif
#endif

/* What every app may do: compute, allocate, use its fds, resolve paths
 * beneath its preopens (openat2 only; plain openat is not needed after the
 * preopens are open), keep time and wait. */
static const int base_calls[] = {
	SCMP_SYS(read),		SCMP_SYS(write),
	SCMP_SYS(readv),	SCMP_SYS(writev),
	SCMP_SYS(pread64),	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),	SCMP_SYS(pwritev),
	SCMP_SYS(lseek),	SCMP_SYS(close),
	SCMP_SYS(fstat),	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),	SCMP_SYS(openat2),
	SCMP_SYS(mkdirat),	SCMP_SYS(unlinkat),
	SCMP_SYS(renameat),	SCMP_SYS(renameat2),
	SCMP_SYS(linkat),	SCMP_SYS(symlinkat),
	SCMP_SYS(readlinkat),	SCMP_SYS(getdents64),
	SCMP_SYS(fcntl),	SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate),	SCMP_SYS(fadvise64),
	SCMP_SYS(fsync),	SCMP_SYS(fdatasync),
	SCMP_SYS(utimensat),	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),	SCMP_SYS(gettimeofday),
	SCMP_SYS(getrandom),	SCMP_SYS(sched_yield),
	SCMP_SYS(ppoll),	SCMP_SYS(poll),
	SCMP_SYS(exit),		SCMP_SYS(exit_group),
	SCMP_SYS(mmap),		SCMP_SYS(munmap),
	SCMP_SYS(mremap),	SCMP_SYS(brk),
	SCMP_SYS(madvise),	SCMP_SYS(mprotect),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(futex),	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
};

static const int net_calls[] = {
	SCMP_SYS(bind),	       SCMP_SYS(listen),      SCMP_SYS(accept4),    SCMP_SYS(connect),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
	SCMP_SYS(shutdown),    SCMP_SYS(sendmsg),     SCMP_SYS(recvmsg),    SCMP_SYS(sendto),
	SCMP_SYS(recvfrom),
};

#ifdef SANDBOX_SAN
static const int san_calls[] = {
	SCMP_SYS(openat),
	SCMP_SYS(readlink),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(prctl),
	SCMP_SYS(clone),
	SCMP_SYS(clone3),
	SCMP_SYS(ptrace),
	SCMP_SYS(wait4),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(prlimit64),
	SCMP_SYS(getrlimit),
	SCMP_SYS(uname),
	SCMP_SYS(pipe2),
	SCMP_SYS(dup),
	SCMP_SYS(dup2),
	SCMP_SYS(dup3),
	SCMP_SYS(execve),
	SCMP_SYS(getppid),
	SCMP_SYS(kill),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(mlock),
	SCMP_SYS(munlock),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(access),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(stat),
	SCMP_SYS(lstat),
	SCMP_SYS(open),
	SCMP_SYS(process_vm_readv),
	SCMP_SYS(getdents),
};
#endif

/* ORCHARD_WASM_SECCOMP_DEBUG=1 turns the kill into a trap whose handler
 * names the blocked system call before exiting (status 159 = 128+SIGSYS):
 * the filter stays on, only its report gets better. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "orchard-wasm: blocked system call %d\n",
			 si->si_syscall);
	(void)sig;
	(void)uc;
	if (write(2, msg, (size_t)n) < 0) {
	}
	_exit(128 + SIGSYS);
}

static int rlimit_set(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
	return setrlimit(res, &rl);
}

int sandbox_apply(const sandbox_opts *o, char *err, size_t errlen)
{
	int rc = -1;
	scmp_filter_ctx f = NULL;
	const char *what = NULL;

	/* A stuck guest exhausts the soft CPU limit (SIGXCPU) and, should it
	 * survive, the hard one a second later (SIGKILL). */
	if (o->cpu_seconds && rlimit_set(RLIMIT_CPU, o->cpu_seconds, o->cpu_seconds + 1) < 0) {
		what = "setrlimit(RLIMIT_CPU)";
		goto out;
	}
	if (rlimit_set(RLIMIT_CORE, 0, 0) < 0) {
		what = "setrlimit(RLIMIT_CORE)";
		goto out;
	}
#ifndef SANDBOX_SAN
	/* No new processes (seccomp forbids clone too). The SAN build leaves this
	 * out: LeakSanitizer clones a tracer at exit, which a non-root NPROC=0
	 * would refuse. */
	if (rlimit_set(RLIMIT_NPROC, 0, 0) < 0) {
		what = "setrlimit(RLIMIT_NPROC)";
		goto out;
	}
#endif
#ifndef SANDBOX_SAN
	/* The guest's memory is capped inside the engine; this backstop caps the
	 * whole runtime: twice the guest memory (wabt's vector may double while
	 * growing) plus room for the interpreter. ASan reserves terabytes of
	 * shadow address space, so the SAN build relies on the engine cap. */
	if (o->max_memory && rlimit_set(RLIMIT_AS, o->max_memory * 2 + (512ull << 20),
					o->max_memory * 2 + (512ull << 20)) < 0) {
		what = "setrlimit(RLIMIT_AS)";
		goto out;
	}
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		what = "prctl(PR_SET_NO_NEW_PRIVS)";
		goto out;
	}
	uint32_t deny = SCMP_ACT_KILL_PROCESS;
	const char *dbg = getenv("ORCHARD_WASM_SECCOMP_DEBUG");
	if (dbg && *dbg == '1') {
		struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
		sigaction(SIGSYS, &sa, NULL);
		deny = dbg[1] == 'e' ? SCMP_ACT_ERRNO(ENOSYS) : SCMP_ACT_TRAP;
	}
	f = seccomp_init(deny);
	if (!f) {
		what = "seccomp_init";
		goto out;
	}
	for (size_t i = 0; i < sizeof(base_calls) / sizeof(base_calls[0]); i++)
		if (seccomp_rule_add(f, SCMP_ACT_ALLOW, base_calls[i], 0) < 0) {
			what = "seccomp_rule_add";
			goto out;
		}
	/* ioctl: only "how many bytes are ready" (poll_oneoff) and the tty query
	 * stdio makes. kill/tgkill: only ourselves (abort()). */
	if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_EQ, FIONREAD)) < 0 ||
	    seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS)) <
		    0 ||
	    seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())) < 0) {
		what = "seccomp_rule_add(ioctl/tgkill)";
		goto out;
	}
	if (o->network) {
		for (size_t i = 0; i < sizeof(net_calls) / sizeof(net_calls[0]); i++)
			if (seccomp_rule_add(f, SCMP_ACT_ALLOW, net_calls[i], 0) < 0) {
				what = "seccomp_rule_add(net)";
				goto out;
			}
		/* Only IP sockets: no AF_UNIX, AF_NETLINK or raw packets. */
		if (seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_INET)) < 0 ||
		    seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_INET6)) < 0) {
			what = "seccomp_rule_add(socket)";
			goto out;
		}
	}
#ifdef SANDBOX_SAN
	for (size_t i = 0; i < sizeof(san_calls) / sizeof(san_calls[0]); i++)
		if (seccomp_rule_add(f, SCMP_ACT_ALLOW, san_calls[i], 0) < 0) {
			what = "seccomp_rule_add(san)";
			goto out;
		}
#endif
	if (seccomp_load(f) < 0) {
		what = "seccomp_load";
		goto out;
	}
	rc = 0;
out:
	if (what)
		snprintf(err, errlen, "sandbox: %s failed: %s", what, strerror(errno));
	seccomp_release(f);
	return rc;
}
