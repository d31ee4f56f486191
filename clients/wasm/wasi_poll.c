/* wasi_poll.c: poll_oneoff, WASI's one way to wait: clock timeouts and
 * readiness of files, pipes and sockets, mapped onto one ppoll(2). */
#include "clients/wasm/wasi.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#define POLL_SUBS_MAX 4096

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void event_put(uint8_t *ev, uint64_t userdata, uint16_t err, uint8_t type, uint64_t nbytes,
		      uint16_t flags)
{
	memset(ev, 0, SZ_EVENT);
	memcpy(ev, &userdata, 8);
	memcpy(ev + 8, &err, 2);
	ev[10] = type;
	memcpy(ev + 16, &nbytes, 8);
	memcpy(ev + 24, &flags, 2);
}

WASI_FN(poll_oneoff)
{
	uint32_t in = (uint32_t)a[0], out = (uint32_t)a[1], n = (uint32_t)a[2];
	int32_t rc = W_ESUCCESS;
	struct pollfd *pfd = NULL;
	int64_t *deadline = NULL; /* per clock subscription: ns from now, -1 if not a clock */
	if (n == 0)
		return W_EINVAL;
	if (n > POLL_SUBS_MAX)
		return W_ENOTSUP;
	uint8_t *subs = wasi_mem(c, in, (uint64_t)n * SZ_SUBSCRIPTION);
	uint8_t *evs = wasi_mem(c, out, (uint64_t)n * SZ_EVENT);
	if (!subs || !evs || !wasi_mem(c, (uint32_t)a[3], 4))
		return W_EFAULT;
	pfd = calloc(n, sizeof(*pfd));
	deadline = calloc(n, sizeof(*deadline));
	if (!pfd || !deadline) {
		rc = W_ENOMEM;
		goto out;
	}
	uint32_t nev = 0;
	int64_t timeout = -1; /* ns; -1 waits for ever */
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *s = subs + (size_t)i * SZ_SUBSCRIPTION;
		uint64_t userdata;
		memcpy(&userdata, s, 8);
		pfd[i].fd = -1;
		deadline[i] = -1;
		uint8_t tag = s[8];
		if (tag == EV_CLOCK) {
			uint32_t id;
			uint64_t t;
			uint16_t flags;
			memcpy(&id, s + 16, 4);
			memcpy(&t, s + 24, 8);
			memcpy(&flags, s + 40, 2);
			clockid_t hid = id == CLK_REALTIME	    ? CLOCK_REALTIME
					: id == CLK_MONOTONIC	    ? CLOCK_MONOTONIC
					: id == CLK_PROCESS_CPUTIME ? CLOCK_PROCESS_CPUTIME_ID
					: id == CLK_THREAD_CPUTIME  ? CLOCK_THREAD_CPUTIME_ID
								    : (clockid_t)-1;
			if (hid == (clockid_t)-1) {
				event_put(evs + (size_t)nev++ * SZ_EVENT, userdata, W_EINVAL, tag,
					  0, 0);
				timeout = 0;
				continue;
			}
			if (flags & SUBCLOCK_ABSTIME) {
				uint64_t now = now_ns(hid);
				t = t > now ? t - now : 0;
			}
			deadline[i] = t > INT64_MAX ? INT64_MAX : (int64_t)t;
			if (timeout < 0 || deadline[i] < timeout)
				timeout = deadline[i];
		} else if (tag == EV_FD_READ || tag == EV_FD_WRITE) {
			uint32_t fd;
			int32_t e;
			memcpy(&fd, s + 16, 4);
			wasi_fd *f = wasi_fd_get(c, fd, R_POLL_FD_READWRITE, &e);
			if (!f) {
				event_put(evs + (size_t)nev++ * SZ_EVENT, userdata, (uint16_t)e,
					  tag, 0, 0);
				timeout = 0;
				continue;
			}
			pfd[i].fd = f->host;
			pfd[i].events = tag == EV_FD_READ ? POLLIN : POLLOUT;
		} else {
			rc = W_EINVAL;
			goto out;
		}
	}
	uint64_t start = now_ns(CLOCK_MONOTONIC);
	for (;;) {
		struct timespec ts, *tsp = NULL;
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000000000;
			ts.tv_nsec = timeout % 1000000000;
			tsp = &ts;
		}
		int r = ppoll(pfd, n, tsp, NULL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = wasi_errno(errno);
			goto out;
		}
		break;
	}
	uint64_t elapsed = now_ns(CLOCK_MONOTONIC) - start;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *s = subs + (size_t)i * SZ_SUBSCRIPTION;
		uint64_t userdata;
		memcpy(&userdata, s, 8);
		if (pfd[i].fd >= 0 && pfd[i].revents) {
			short re = pfd[i].revents;
			uint16_t err = (re & POLLNVAL) ? W_EBADF : 0;
			uint16_t flags = (re & POLLHUP) ? EVRW_HANGUP : 0;
			int avail = 0;
			if (s[8] == EV_FD_READ && ioctl(pfd[i].fd, FIONREAD, &avail) < 0)
				avail = 0;
			event_put(evs + (size_t)nev++ * SZ_EVENT, userdata, err, s[8],
				  (uint64_t)(avail > 0 ? avail : 0), flags);
		} else if (deadline[i] >= 0 && (uint64_t)deadline[i] <= elapsed) {
			event_put(evs + (size_t)nev++ * SZ_EVENT, userdata, 0, EV_CLOCK, 0, 0);
		}
	}
	/* ppoll can wake a hair before the kernel's clock says the deadline
	 * passed; the earliest clock is then the one that fired. */
	if (nev == 0) {
		for (uint32_t i = 0; i < n; i++) {
			if (deadline[i] == timeout && timeout >= 0) {
				uint64_t userdata;
				memcpy(&userdata, subs + (size_t)i * SZ_SUBSCRIPTION, 8);
				event_put(evs + (size_t)nev++ * SZ_EVENT, userdata, 0, EV_CLOCK, 0,
					  0);
				break;
			}
		}
	}
	rc = wasi_put_u32(c, (uint32_t)a[3], nev);
out:
	free(pfd);
	free(deadline);
	return rc;
}

const engine_host_func wasi_poll_funcs[] = {
	WASI_ENTRY(poll_oneoff, "iiii"),
};
const size_t wasi_poll_nfuncs = sizeof(wasi_poll_funcs) / sizeof(wasi_poll_funcs[0]);
