/* wasi_core.c: guest checks of args, environment, clocks, randomness,
 * process calls, stdio fds, poll_oneoff timers, and bad guest pointers. */
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "check.h"

static uint64_t now(__wasi_clockid_t id)
{
	__wasi_timestamp_t t = 0;
	__wasi_clock_time_get(id, 1, &t);
	return t;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "exit42"))
		exit(42);
	if (argc > 1 && !strcmp(argv[1], "sleep")) {
		/* For the wall-clock budget: sleep 30 s in poll_oneoff. */
		__wasi_subscription_t s = {
			.u.tag = __WASI_EVENTTYPE_CLOCK,
			.u.u.clock = {.id = __WASI_CLOCKID_MONOTONIC, .timeout = 30000000000ull}};
		__wasi_event_t e;
		__wasi_size_t n;
		__wasi_poll_oneoff(&s, &e, 1, &n);
		return 3;
	}
	if (argc > 1 && !strcmp(argv[1], "spin")) {
		volatile unsigned x = 0;
		for (;;)
			x++;
	}
	if (argc > 1 && !strcmp(argv[1], "trap")) {
		__builtin_trap();
	}
	if (argc > 1 && !strcmp(argv[1], "epipe")) {
		/* Write until the reader has gone: EPIPE (5), not a dead runtime. */
		static char line[4096];
		memset(line, 'x', sizeof(line));
		__wasi_ciovec_t iov = {(const uint8_t *)line, sizeof(line)};
		for (int i = 0; i < 100000; i++) {
			__wasi_size_t n;
			__wasi_errno_t e = __wasi_fd_write(1, &iov, 1, &n);
			if (e == __WASI_ERRNO_PIPE)
				return 5;
			if (e)
				return 6;
		}
		return 7;
	}
	if (argc > 1 && !strcmp(argv[1], "stderr")) {
		fprintf(stderr, "to stderr\n");
		return 0;
	}

	/* args and environ */
	CHECK_EQ("args.count", argc, 3);
	CHECK("args.argv0", argc > 0 && strstr(argv[0], "wasi_core"));
	CHECK("args.argv1", argc > 1 && !strcmp(argv[1], "alpha"));
	CHECK("args.argv2", argc > 2 && !strcmp(argv[2], "beta gamma"));
	CHECK("environ.FOO", getenv("FOO") && !strcmp(getenv("FOO"), "bar"));
	CHECK("environ.EMPTY", getenv("EMPTY") && !strcmp(getenv("EMPTY"), ""));
	CHECK("environ.host_not_leaked", getenv("PATH") == NULL && getenv("HOME") == NULL);
	__wasi_size_t ac, asz;
	CHECK_EQ("args_sizes_get", __wasi_args_sizes_get(&ac, &asz), 0);
	CHECK_EQ("args_sizes_get.count", ac, 3);

	/* clocks */
	__wasi_timestamp_t res;
	for (int id = 0; id < 4; id++) {
		char name[64];
		snprintf(name, sizeof(name), "clock_res_get.%d", id);
		CHECK(name, __wasi_clock_res_get((__wasi_clockid_t)id, &res) == 0 && res > 0);
		snprintf(name, sizeof(name), "clock_time_get.%d", id);
		__wasi_timestamp_t t = 0;
		CHECK(name, __wasi_clock_time_get((__wasi_clockid_t)id, 1, &t) == 0 && t > 0);
	}
	CHECK_EQ("clock_res_get.bad_id", __wasi_clock_res_get(7, &res), __WASI_ERRNO_INVAL);
	__wasi_timestamp_t t0;
	CHECK_EQ("clock_time_get.bad_id", __wasi_clock_time_get(99, 1, &t0), __WASI_ERRNO_INVAL);
	CHECK("clock.realtime_is_now",
	      now(__WASI_CLOCKID_REALTIME) > 1600000000ull * 1000000000ull);
	uint64_t m1 = now(__WASI_CLOCKID_MONOTONIC), m2 = now(__WASI_CLOCKID_MONOTONIC);
	CHECK("clock.monotonic", m2 >= m1);

	/* random */
	uint8_t r1[32] = {0}, r2[32] = {0};
	CHECK_EQ("random_get", __wasi_random_get(r1, sizeof(r1)), 0);
	__wasi_random_get(r2, sizeof(r2));
	CHECK("random_get.differs", memcmp(r1, r2, sizeof(r1)) != 0);
	CHECK_EQ("random_get.zero_len", __wasi_random_get(r1, 0), 0);

	/* process */
	CHECK_EQ("sched_yield", __wasi_sched_yield(), 0);
	CHECK_EQ("proc_raise.notsup", raw_proc_raise(15), __WASI_ERRNO_NOTSUP);

	/* stdio fds and bad fds */
	__wasi_fdstat_t st;
	CHECK_EQ("fd_fdstat_get.stdout", __wasi_fd_fdstat_get(1, &st), 0);
	CHECK("fd_fdstat_get.stdout_can_write", st.fs_rights_base & __WASI_RIGHTS_FD_WRITE);
	CHECK_EQ("fd_fdstat_get.badf", __wasi_fd_fdstat_get(77, &st), __WASI_ERRNO_BADF);
	CHECK_EQ("fd_close.badf", __wasi_fd_close(77), __WASI_ERRNO_BADF);
	__wasi_prestat_t ps;
	CHECK_EQ("fd_prestat_get.not_preopen", __wasi_fd_prestat_get(1, &ps), __WASI_ERRNO_BADF);
	CHECK_EQ("fd_prestat_get.none", __wasi_fd_prestat_get(3, &ps), __WASI_ERRNO_BADF);
	__wasi_ciovec_t iov = {(const uint8_t *)"x", 1};
	__wasi_size_t nw;
	CHECK_EQ("fd_write.badf", __wasi_fd_write(55, &iov, 1, &nw), __WASI_ERRNO_BADF);
	int se = __wasi_fd_seek(1, 5, __WASI_WHENCE_SET, &t0);
	CHECK("fd_seek.stdout_pipe", se == __WASI_ERRNO_NOTCAPABLE || se == __WASI_ERRNO_SPIPE);
	CHECK_EQ("fd_renumber.badf", __wasi_fd_renumber(1, 88), __WASI_ERRNO_BADF);

	/* poll_oneoff: timers, bad fds, nothing */
	__wasi_subscription_t s[2] = {0};
	__wasi_event_t ev[2];
	__wasi_size_t nev = 0;
	s[0].userdata = 11;
	s[0].u.tag = __WASI_EVENTTYPE_CLOCK;
	s[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
	s[0].u.u.clock.timeout = 20000000; /* 20 ms */
	uint64_t before = now(__WASI_CLOCKID_MONOTONIC);
	CHECK_EQ("poll_oneoff.clock", __wasi_poll_oneoff(s, ev, 1, &nev), 0);
	CHECK("poll_oneoff.clock_waited", now(__WASI_CLOCKID_MONOTONIC) - before >= 19000000);
	CHECK("poll_oneoff.clock_event", nev == 1 && ev[0].userdata == 11 &&
						 ev[0].type == __WASI_EVENTTYPE_CLOCK &&
						 ev[0].error == 0);
	s[0].u.u.clock.id = __WASI_CLOCKID_REALTIME;
	s[0].u.u.clock.timeout = 1000; /* absolute, long past */
	s[0].u.u.clock.flags = __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME;
	CHECK("poll_oneoff.abstime_past", __wasi_poll_oneoff(s, ev, 1, &nev) == 0 && nev == 1);
	s[1].userdata = 22;
	s[1].u.tag = __WASI_EVENTTYPE_FD_READ;
	s[1].u.u.fd_read.file_descriptor = 66;
	CHECK("poll_oneoff.badf_event", __wasi_poll_oneoff(&s[1], ev, 1, &nev) == 0 && nev == 1 &&
						ev[0].userdata == 22 &&
						ev[0].error == __WASI_ERRNO_BADF);
	CHECK_EQ("poll_oneoff.zero", __wasi_poll_oneoff(s, ev, 0, &nev), __WASI_ERRNO_INVAL);
	s[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
	s[1].u.u.fd_write.file_descriptor = 1;
	CHECK("poll_oneoff.stdout_writable",
	      __wasi_poll_oneoff(&s[1], ev, 1, &nev) == 0 && nev == 1 &&
		      ev[0].type == __WASI_EVENTTYPE_FD_WRITE && ev[0].error == 0);

	/* Guest pointers past the end of memory: EFAULT, never a host crash. */
	uint32_t bad = BAD_PTR;
	CHECK_EQ("efault.args_sizes_get", raw_args_sizes_get(bad, bad), __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.args_get", raw_args_get(bad, bad), __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.environ_get", raw_environ_get(0xfffffff0u, 16), __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.clock_time_get", raw_clock_time_get(0, 1, bad), __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.random_get", raw_random_get(bad, 16), __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.random_get_wrap", raw_random_get(0xffffffffu, 0xffffffffu),
		 __WASI_ERRNO_FAULT);
	static uint32_t iovs[2];
	iovs[0] = bad;
	iovs[1] = 100;
	static uint32_t outn;
	CHECK_EQ("efault.fd_write_buffer",
		 raw_fd_write(1, (uint32_t)(uintptr_t)iovs, 1, (uint32_t)(uintptr_t)&outn),
		 __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.fd_write_iovs", raw_fd_write(1, bad, 1, (uint32_t)(uintptr_t)&outn),
		 __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.fd_write_iovs_count",
		 raw_fd_write(1, (uint32_t)(uintptr_t)iovs, 0x20000000u,
			      (uint32_t)(uintptr_t)&outn) != 0,
		 1);
	CHECK_EQ("efault.fd_read_buffer",
		 raw_fd_read(0, (uint32_t)(uintptr_t)iovs, 1, (uint32_t)(uintptr_t)&outn),
		 __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.fd_fdstat_get", raw_fd_fdstat_get(1, bad), __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.poll_oneoff", raw_poll_oneoff(bad, 0, 1, (uint32_t)(uintptr_t)&outn),
		 __WASI_ERRNO_FAULT);
	CHECK_EQ("efault.path_open",
		 raw_path_open(3, 0, bad, 100, 0, 0, 0, 0, (uint32_t)(uintptr_t)&outn) != 0, 1);
	printf("still alive after bad pointers\n");
	return check_done();
}
