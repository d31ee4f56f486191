/* wasi_sock.c: guest checks of the WasmEdge socket ABI and its grants:
 * argv[1] is a granted listen port, argv[2] one that is not granted. */
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "check.h"
#include "wasmedge_socket.h"

static uint8_t lo[4] = {127, 0, 0, 1};

/* The preview1-shaped accept (fd, fdflags, *fd), under WasmEdge's V2 name,
 * and V2 getlocaladdr with 128-byte address storage. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_accept_v2"))) uint32_t
raw_sock_accept_v2(uint32_t fd, uint32_t flags, uint32_t *out);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_getlocaladdr_v2")))
uint32_t
raw_sock_getlocaladdr_v2(uint32_t fd, we_address *addr, uint32_t *port);

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "nogrant")) {
		uint32_t fd;
		CHECK_EQ("sock_open.no_grant", we_sock_open(WE_AF_INET4, WE_SOCK_STREAM, &fd),
			 __WASI_ERRNO_ACCES);
		return check_done();
	}
	if (argc < 3)
		return 2;
	uint32_t port = (uint32_t)strtoul(argv[1], NULL, 10),
		 denied = (uint32_t)strtoul(argv[2], NULL, 10);
	uint32_t lfd, cfd, afd, ufd, ufd2;
	we_address addr = {lo, 4};

	CHECK_EQ("sock_open", we_sock_open(WE_AF_INET4, WE_SOCK_STREAM, &lfd), 0);
	CHECK_EQ("sock_open.bad_family", we_sock_open(9, WE_SOCK_STREAM, &cfd),
		 __WASI_ERRNO_AFNOSUPPORT);
	CHECK_EQ("sock_bind.not_granted", we_sock_bind(lfd, &addr, denied), __WASI_ERRNO_ACCES);
	we_address bad_len = {lo, 5};
	CHECK_EQ("sock_bind.bad_len", we_sock_bind(lfd, &bad_len, port), __WASI_ERRNO_INVAL);
	we_address bad_buf = {(uint8_t *)(uintptr_t)BAD_PTR, 4};
	CHECK_EQ("sock_bind.efault", we_sock_bind(lfd, &bad_buf, port), __WASI_ERRNO_FAULT);
	CHECK_EQ("sock_bind.efault_struct",
		 we_sock_bind(lfd, (we_address *)(uintptr_t)BAD_PTR, port), __WASI_ERRNO_FAULT);
	CHECK_EQ("sock_listen.unbound", we_sock_listen(lfd, 8), __WASI_ERRNO_ACCES);
	CHECK_EQ("sock_bind", we_sock_bind(lfd, &addr, port), 0);
	CHECK_EQ("sock_listen", we_sock_listen(lfd, 8), 0);
	uint8_t ab[16];
	we_address got = {ab, 4};
	uint32_t type = 0, gport = 0;
	CHECK_EQ("sock_getlocaladdr", we_sock_getlocaladdr(lfd, &got, &type, &gport), 0);
	CHECK("sock_getlocaladdr.value", type == 4 && gport == port && !memcmp(ab, lo, 4));
	uint8_t store[128] = {0};
	we_address st = {store, sizeof(store)};
	CHECK_EQ("sock_getlocaladdr_v2", raw_sock_getlocaladdr_v2(lfd, &st, &gport), 0);
	CHECK("sock_getlocaladdr_v2.value",
	      store[0] == WE_AF_INET4 && !memcmp(store + 2, lo, 4) && gport == port);
	uint32_t nfd;
	/* fdflags apply to the accepted socket; the listener's own flag decides
	 * whether accept waits. */
	CHECK_EQ("fd_fdstat_set_flags.sock_nonblock",
		 __wasi_fd_fdstat_set_flags(lfd, __WASI_FDFLAGS_NONBLOCK), 0);
	CHECK_EQ("sock_accept_v2.nonblock_idle",
		 raw_sock_accept_v2(lfd, __WASI_FDFLAGS_NONBLOCK, &nfd), __WASI_ERRNO_AGAIN);
	CHECK_EQ("sock_accept.v1_nonblock_idle", we_sock_accept(lfd, &nfd), __WASI_ERRNO_AGAIN);
	CHECK_EQ("fd_fdstat_set_flags.sock_blocking", __wasi_fd_fdstat_set_flags(lfd, 0), 0);
	CHECK_EQ("sock_accept_v2.bad_flags", raw_sock_accept_v2(lfd, __WASI_FDFLAGS_APPEND, &nfd),
		 __WASI_ERRNO_INVAL);
	int32_t val = 0;
	uint32_t vlen = sizeof(val);
	CHECK_EQ("sock_getsockopt.type", we_sock_getsockopt(lfd, 0, WE_SO_TYPE, &val, &vlen), 0);
	CHECK_EQ("sock_getsockopt.type_value", val, WE_SOCK_STREAM);
	val = 1;
	CHECK_EQ("sock_setsockopt.keepalive",
		 we_sock_setsockopt(lfd, 0, WE_SO_KEEPALIVE, &val, sizeof(val)), 0);
	CHECK_EQ("sock_setsockopt.bad_level",
		 we_sock_setsockopt(lfd, 5, WE_SO_KEEPALIVE, &val, sizeof(val)),
		 __WASI_ERRNO_NOPROTOOPT);
	CHECK_EQ("sock_setsockopt.bindtodevice", we_sock_setsockopt(lfd, 0, 14, &val, sizeof(val)),
		 __WASI_ERRNO_ACCES);

	/* connect: to a granted host:port works, anything else is refused */
	CHECK_EQ("sock_open.client", we_sock_open(WE_AF_INET4, WE_SOCK_STREAM, &cfd), 0);
	CHECK_EQ("sock_connect.not_granted", we_sock_connect(cfd, &addr, denied),
		 __WASI_ERRNO_ACCES);
	uint8_t other[4] = {127, 0, 0, 2};
	we_address oaddr = {other, 4};
	CHECK_EQ("sock_connect.host_not_granted", we_sock_connect(cfd, &oaddr, port),
		 __WASI_ERRNO_ACCES);
	CHECK_EQ("sock_connect", we_sock_connect(cfd, &addr, port), 0);
	CHECK_EQ("sock_accept", we_sock_accept(lfd, &afd), 0);
	CHECK_EQ("sock_getpeeraddr", we_sock_getpeeraddr(afd, &got, &type, &gport), 0);
	CHECK("sock_getpeeraddr.value", type == 4 && !memcmp(ab, lo, 4));

	/* poll_oneoff on sockets: nothing to read yet, then data */
	__wasi_subscription_t s = {.userdata = 5,
				   .u.tag = __WASI_EVENTTYPE_FD_READ,
				   .u.u.fd_read.file_descriptor = afd};
	__wasi_subscription_t subs[2] = {
		s,
		{.userdata = 6,
		 .u.tag = __WASI_EVENTTYPE_CLOCK,
		 .u.u.clock = {.id = __WASI_CLOCKID_MONOTONIC, .timeout = 10000000}}};
	__wasi_event_t ev[2];
	__wasi_size_t nev;
	CHECK("poll_oneoff.sock_idle",
	      __wasi_poll_oneoff(subs, ev, 2, &nev) == 0 && nev == 1 && ev[0].userdata == 6);
	const char msg[] = "ping over wasmedge sockets";
	we_iovec siov = {(void *)msg, sizeof(msg)};
	uint32_t sent = 0, rcvd = 0;
	CHECK_EQ("sock_send", we_sock_send(cfd, &siov, 1, 0, &sent), 0);
	CHECK_EQ("sock_send.len", sent, sizeof(msg));
	CHECK("poll_oneoff.sock_ready", __wasi_poll_oneoff(subs, ev, 2, &nev) == 0 && nev >= 1 &&
						ev[0].userdata == 5 &&
						ev[0].fd_readwrite.nbytes == sizeof(msg));
	char buf[64] = {0};
	we_iovec riov = {buf, sizeof(buf)};
	uint16_t of = 0;
	CHECK_EQ("sock_recv.peek", we_sock_recv(afd, &riov, 1, 1, &rcvd, &of), 0);
	CHECK_EQ("sock_recv", we_sock_recv(afd, &riov, 1, 0, &rcvd, &of), 0);
	CHECK("sock_recv.value", rcvd == sizeof(msg) && !memcmp(buf, msg, sizeof(msg)));
	static uint32_t iov_bad[2];
	iov_bad[0] = BAD_PTR;
	iov_bad[1] = 64;
	static uint32_t out1;
	static uint16_t out2;
	CHECK_EQ("sock_recv.efault",
		 raw_sock_recv(afd, (uint32_t)(uintptr_t)iov_bad, 1, 0, (uint32_t)(uintptr_t)&out1,
			       (uint32_t)(uintptr_t)&out2),
		 __WASI_ERRNO_FAULT);
	CHECK_EQ("sock_shutdown", we_sock_shutdown(cfd, 2), 0);
	CHECK_EQ("sock_recv.eof", we_sock_recv(afd, &riov, 1, 0, &rcvd, &of) == 0 && rcvd == 0, 1);
	CHECK_EQ("sock_shutdown.bad_how", we_sock_shutdown(cfd, 9), __WASI_ERRNO_INVAL);
	CHECK_EQ("sock_send.notsock", we_sock_send(1, &siov, 1, 0, &sent), __WASI_ERRNO_NOTSOCK);
	CHECK_EQ("sock_send.badf", we_sock_send(99, &siov, 1, 0, &sent), __WASI_ERRNO_BADF);
	/* fd_read/fd_write work on sockets too */
	__wasi_fd_close(afd);
	__wasi_fd_close(cfd);

	/* UDP: send_to and recv_from on granted ports only */
	CHECK_EQ("sock_open.udp", we_sock_open(WE_AF_INET4, WE_SOCK_DGRAM, &ufd), 0);
	CHECK_EQ("sock_open.udp2", we_sock_open(WE_AF_INET4, WE_SOCK_DGRAM, &ufd2), 0);
	CHECK_EQ("sock_bind.udp", we_sock_bind(ufd, &addr, port), 0);
	CHECK_EQ("sock_send_to.not_granted",
		 we_sock_send_to(ufd2, &siov, 1, &addr, denied, 0, &sent), __WASI_ERRNO_ACCES);
	CHECK_EQ("sock_send_to", we_sock_send_to(ufd2, &siov, 1, &addr, port, 0, &sent), 0);
	uint8_t from[128] = {0};
	we_address faddr = {from, sizeof(from)};
	uint32_t fport = 0;
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("sock_recv_from", we_sock_recv_from(ufd, &riov, 1, &faddr, 0, &fport, &rcvd, &of),
		 0);
	CHECK("sock_recv_from.value", rcvd == sizeof(msg) && !memcmp(buf, msg, sizeof(msg)));
	CHECK("sock_recv_from.addr",
	      from[0] == WE_AF_INET4 && from[1] == 0 && !memcmp(from + 2, lo, 4) && fport != 0);

	/* getaddrinfo: numbers, granted names, and nothing else */
	we_addrinfo hints = {0}, ai[2] = {0}, *res = ai;
	we_sockaddr sa[2];
	uint8_t sd[2][26];
	for (int i = 0; i < 2; i++) {
		sa[i].sa_data = sd[i];
		sa[i].sa_data_len = 26;
		ai[i].ai_addr = &sa[i];
		ai[i].ai_next = i == 0 ? &ai[1] : NULL;
	}
	uint32_t nres = 0;
	hints.ai_family = WE_AF_INET4;
	CHECK_EQ("sock_getaddrinfo.numeric",
		 we_sock_getaddrinfo("127.0.0.1", 10, "8080", 5, &hints, &res, 2, &nres), 0);
	CHECK("sock_getaddrinfo.numeric_value",
	      nres == 1 && ai[0].ai_family == WE_AF_INET4 && sa[0].sa_data_len == 14 &&
		      sd[0][0] == 0x1f && sd[0][1] == 0x90 && !memcmp(&sd[0][2], lo, 4));
	CHECK_EQ("sock_getaddrinfo.granted_name",
		 we_sock_getaddrinfo("localhost", 10, "", 1, &hints, &res, 2, &nres), 0);
	CHECK_EQ("sock_getaddrinfo.not_granted",
		 we_sock_getaddrinfo("example.com", 12, "80", 3, &hints, &res, 2, &nres), 84);
	CHECK_EQ("sock_getaddrinfo.efault",
		 we_sock_getaddrinfo((const char *)(uintptr_t)BAD_PTR, 10, "80", 3, &hints, &res, 2,
				     &nres),
		 __WASI_ERRNO_FAULT);
	return check_done();
}
