/* wasi_sock.c: sockets for guests: preview1's sock_accept/recv/send/shutdown
 * and WasmEdge's socket extension, each bind/connect checked against grants.
 *
 * ABI read from WasmEdge lib/host/wasi/wasifunc.cpp (WasiSock*V1/V2::body),
 * lib/host/wasi/inode-linux.cpp (sockGetAddrinfo) and thirdparty/wasi/api.hpp
 * (__wasi_address_t, __wasi_addrinfo_t, __wasi_sockaddr_t layouts), and from
 * second-state/wasmedge_wasi_socket src/socket.rs (what apps import). We accept
 * the V1 names (sock_open, sock_bind, ...), the _v2 names WasmEdge 0.13+
 * registers for open/bind/connect/listen/accept, and both shapes of
 * sock_accept and sock_recv_from (chosen by the import's signature). */
#include "clients/wasm/wasi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#define SOCK_IOV_MAX 1024

/* WasmEdge's address families, socket types and getaddrinfo errnos. */
enum { WAF_UNSPEC = 0, WAF_INET4 = 1, WAF_INET6 = 2 };
enum { WST_ANY = 0, WST_DGRAM = 1, WST_STREAM = 2 };
enum { W_EAI_FAMILY = 81, W_EAI_MEMORY = 82, W_EAI_NONAME = 84, W_EAI_SERVICE = 85 };

/* Every network refusal by grant is EACCES, the errno a guest sees for a
 * privileged port, so apps print "Permission denied" rather than crash. */
#define W_ENOTGRANTED W_EACCES

static wasi_fd *sock_get(wasi_ctx *c, uint32_t fd, uint64_t need, int32_t *err)
{
	/* The type first: a file or stdout is ENOTSOCK, not ENOTCAPABLE for
	 * lacking socket rights it could never have (wasi-testsuite). */
	wasi_fd *f = wasi_fd_get(c, fd, 0, err);
	if (f && f->type != FT_SOCKET_STREAM && f->type != FT_SOCKET_DGRAM) {
		*err = W_ENOTSOCK;
		return NULL;
	}
	return f ? wasi_fd_get(c, fd, need, err) : NULL;
}

/* Reads a __wasi_address_t {buf, buf_len} at ptr: 4 bytes IPv4, 16 bytes
 * IPv6, or 128 bytes of WasmEdge's address storage (family u16, address). */
static int32_t addr_from_guest(wasi_ctx *c, uint32_t ptr, uint32_t port,
			       struct sockaddr_storage *ss, socklen_t *sl)
{
	uint32_t buf, len;
	if (wasi_get_u32(c, ptr, &buf) || wasi_get_u32(c, ptr + 4, &len))
		return W_EFAULT;
	const uint8_t *p = wasi_mem(c, buf, len);
	if (!p)
		return W_EFAULT;
	memset(ss, 0, sizeof(*ss));
	int fam;
	if (len == 4) {
		fam = AF_INET;
	} else if (len == 16) {
		fam = AF_INET6;
	} else if (len == 128) {
		uint16_t f;
		memcpy(&f, p, 2);
		if (f != WAF_INET4 && f != WAF_INET6)
			return W_EAFNOSUPPORT;
		fam = f == WAF_INET4 ? AF_INET : AF_INET6;
		p += 2;
	} else {
		return W_EINVAL;
	}
	if (fam == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		memcpy(&v4->sin_addr, p, 4);
		*sl = sizeof(*v4);
	} else {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		memcpy(&v6->sin6_addr, p, 16);
		*sl = sizeof(*v6);
	}
	return W_ESUCCESS;
}

/* The guest's address at ptr with port (addr_from_guest) when the grants
 * allow binding to it (check is grants_check_bind) or reaching it
 * (grants_check_connect): W_ESUCCESS, else the errno the guest sees. */
static int32_t addr_granted(wasi_ctx *c, uint32_t ptr, uint32_t port,
			    bool (*check)(const grants *, const struct sockaddr *),
			    struct sockaddr_storage *ss, socklen_t *sl)
{
	int32_t e = addr_from_guest(c, ptr, port, ss, sl);
	if (e)
		return e;
	return check(c->grants, (struct sockaddr *)ss) ? W_ESUCCESS : W_ENOTGRANTED;
}

static int32_t sock_open_impl(wasi_ctx *c, uint32_t af, uint32_t type, uint32_t out)
{
	if (!wasi_mem(c, out, 4))
		return W_EFAULT;
	if (!grants_any(c->grants))
		return W_ENOTGRANTED;
	int fam = af == WAF_INET4 ? AF_INET : af == WAF_INET6 ? AF_INET6 : -1;
	int st = type == WST_DGRAM			   ? SOCK_DGRAM
		 : (type == WST_STREAM || type == WST_ANY) ? SOCK_STREAM
							   : -1;
	if (fam < 0)
		return W_EAFNOSUPPORT;
	if (st < 0)
		return W_EPROTOTYPE;
	int s = socket(fam, st | SOCK_CLOEXEC, 0);
	if (s < 0)
		return wasi_errno(errno);
	return wasi_fd_give(c, s, st == SOCK_DGRAM ? FT_SOCKET_DGRAM : FT_SOCKET_STREAM,
			    R_SOCK_BASE, 0, out);
}

WASI_FN(sock_open)
{
	return sock_open_impl(c, (uint32_t)a[0], (uint32_t)a[1], (uint32_t)a[2]);
}

WASI_FN(sock_bind)
{
	int32_t e;
	struct sockaddr_storage ss;
	socklen_t sl;
	wasi_fd *f = sock_get(c, (uint32_t)a[0], 0, &e);
	if (!f)
		return e;
	e = addr_granted(c, (uint32_t)a[1], (uint32_t)a[2], grants_check_bind, &ss, &sl);
	if (e)
		return e;
	int one = 1;
	/* Like WasmEdge, let a restarted app rebind its port at once. */
	setsockopt(f->host, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(f->host, (struct sockaddr *)&ss, sl) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

WASI_FN(sock_listen)
{
	int32_t e;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	wasi_fd *f = sock_get(c, (uint32_t)a[0], 0, &e);
	if (!f)
		return e;
	/* listen() on an unbound socket would pick a port nobody granted. */
	if (getsockname(f->host, (struct sockaddr *)&ss, &sl) < 0)
		return wasi_errno(errno);
	if (!grants_check_bind(c->grants, (struct sockaddr *)&ss))
		return W_ENOTGRANTED;
	return listen(f->host, (int)(int32_t)a[1]) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

static int32_t accept_impl(wasi_ctx *c, uint32_t fd, uint32_t flags, uint32_t out)
{
	int32_t e;
	wasi_fd *f = sock_get(c, fd, R_SOCK_ACCEPT, &e);
	if (!f)
		return e;
	if (!wasi_mem(c, out, 4))
		return W_EFAULT;
	if (flags & ~FDF_NONBLOCK)
		return W_EINVAL;
	int s;
	do
		s = accept4(f->host, NULL, NULL,
			    SOCK_CLOEXEC | ((flags & FDF_NONBLOCK) ? SOCK_NONBLOCK : 0));
	while (s < 0 && errno == EINTR);
	if (s < 0)
		return wasi_errno(errno);
	return wasi_fd_give(c, s, FT_SOCKET_STREAM, R_SOCK_BASE & ~R_SOCK_ACCEPT, 0, out);
}

/* preview1 and sock_accept_v2: (fd, fdflags, *fd) */
WASI_FN(sock_accept)
{
	return accept_impl(c, (uint32_t)a[0], (uint32_t)a[1], (uint32_t)a[2]);
}

/* WasmEdge V1: (fd, *fd) */
WASI_FN(sock_accept_v1)
{
	return accept_impl(c, (uint32_t)a[0], 0, (uint32_t)a[1]);
}

WASI_FN(sock_connect)
{
	int32_t e;
	struct sockaddr_storage ss;
	socklen_t sl;
	wasi_fd *f = sock_get(c, (uint32_t)a[0], 0, &e);
	if (!f)
		return e;
	e = addr_granted(c, (uint32_t)a[1], (uint32_t)a[2], grants_check_connect, &ss, &sl);
	if (e)
		return e;
	return connect(f->host, (struct sockaddr *)&ss, sl) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

/* The body of sock_recv and both sock_recv_from shapes. addr_ptr 0 means no
 * address wanted; with_family writes WasmEdge's {u16 family, address} form. */
static int32_t recv_impl(wasi_ctx *c, const uint64_t *a, uint32_t addr_ptr, bool with_family,
			 uint32_t port_ptr, uint32_t riflags, uint32_t len_ptr, uint32_t flags_ptr)
{
	int32_t e;
	struct iovec iov[SOCK_IOV_MAX];
	struct sockaddr_storage ss;
	uint8_t *abuf = NULL;
	uint32_t alen = 0;
	wasi_fd *f = sock_get(c, (uint32_t)a[0], R_FD_READ, &e);
	if (!f)
		return e;
	e = wasi_iovs(c, (uint32_t)a[1], (uint32_t)a[2], iov, SOCK_IOV_MAX);
	if (e)
		return e;
	if (!wasi_mem(c, len_ptr, 4) || !wasi_mem(c, flags_ptr, 2) ||
	    (port_ptr && !wasi_mem(c, port_ptr, 4)))
		return W_EFAULT;
	if (addr_ptr) {
		uint32_t buf;
		if (wasi_get_u32(c, addr_ptr, &buf) || wasi_get_u32(c, addr_ptr + 4, &alen))
			return W_EFAULT;
		abuf = wasi_mem(c, buf, alen);
		if (!abuf)
			return W_EFAULT;
	}
	if (riflags & ~(RI_RECV_PEEK | RI_RECV_WAITALL))
		return W_EINVAL;
	int fl = ((riflags & RI_RECV_PEEK) ? MSG_PEEK : 0) |
		 ((riflags & RI_RECV_WAITALL) ? MSG_WAITALL : 0);
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)(uint32_t)a[2]};
	if (addr_ptr) {
		memset(&ss, 0, sizeof(ss));
		mh.msg_name = &ss;
		mh.msg_namelen = sizeof(ss);
	}
	ssize_t n;
	do
		n = recvmsg(f->host, &mh, fl);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return wasi_errno(errno);
	if (addr_ptr && mh.msg_namelen > 0) {
		const uint8_t *raw = NULL;
		size_t rawlen = 0;
		uint16_t fam = WAF_UNSPEC, port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
			raw = (const uint8_t *)&v4->sin_addr;
			rawlen = 4;
			fam = WAF_INET4;
			port = ntohs(v4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
			raw = (const uint8_t *)&v6->sin6_addr;
			rawlen = 16;
			fam = WAF_INET6;
			port = ntohs(v6->sin6_port);
		}
		size_t off = with_family ? 2 : 0;
		if (raw && alen >= off + rawlen) {
			if (with_family)
				memcpy(abuf, &fam, 2);
			memcpy(abuf + off, raw, rawlen);
		}
		if (port_ptr)
			wasi_put_u32(c, port_ptr, port);
	}
	wasi_put_u32(c, len_ptr, (uint32_t)n);
	wasi_put_u16(c, flags_ptr, (mh.msg_flags & MSG_TRUNC) ? RO_RECV_DATA_TRUNCATED : 0);
	return W_ESUCCESS;
}

/* (fd, ri_data, ri_data_len, ri_flags, *ro_datalen, *ro_flags) */
WASI_FN(sock_recv)
{
	return recv_impl(c, a, 0, false, 0, (uint32_t)a[3], (uint32_t)a[4], (uint32_t)a[5]);
}

/* WasmEdge V1: (fd, ri_data, ri_len, *addr, ri_flags, *ro_len, *ro_flags) */
WASI_FN(sock_recv_from_v1)
{
	return recv_impl(c, a, (uint32_t)a[3], false, 0, (uint32_t)a[4], (uint32_t)a[5],
			 (uint32_t)a[6]);
}

/* wasmedge_wasi_socket: (fd, ri_data, ri_len, *addr, ri_flags, *port, *ro_len, *ro_flags) */
WASI_FN(sock_recv_from)
{
	return recv_impl(c, a, (uint32_t)a[3], true, (uint32_t)a[5], (uint32_t)a[4], (uint32_t)a[6],
			 (uint32_t)a[7]);
}

static int32_t send_impl(wasi_ctx *c, const uint64_t *a, const struct sockaddr_storage *to,
			 socklen_t tl, uint32_t len_ptr)
{
	int32_t e;
	struct iovec iov[SOCK_IOV_MAX];
	wasi_fd *f = sock_get(c, (uint32_t)a[0], R_FD_WRITE, &e);
	if (!f)
		return e;
	e = wasi_iovs(c, (uint32_t)a[1], (uint32_t)a[2], iov, SOCK_IOV_MAX);
	if (e)
		return e;
	if (!wasi_mem(c, len_ptr, 4))
		return W_EFAULT;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)(uint32_t)a[2]};
	if (to) {
		mh.msg_name = (void *)to;
		mh.msg_namelen = tl;
	}
	ssize_t n;
	do
		n = sendmsg(f->host, &mh, MSG_NOSIGNAL); /* a closed peer is EPIPE, not SIGPIPE */
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return wasi_errno(errno);
	return wasi_put_u32(c, len_ptr, (uint32_t)n);
}

/* (fd, si_data, si_data_len, si_flags, *so_datalen) */
WASI_FN(sock_send)
{
	return send_impl(c, a, NULL, 0, (uint32_t)a[4]);
}

/* WasmEdge: (fd, si_data, si_len, *addr, port, si_flags, *so_len) */
WASI_FN(sock_send_to)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int32_t e = addr_granted(c, (uint32_t)a[3], (uint32_t)a[4], grants_check_connect, &ss, &sl);
	if (e)
		return e;
	return send_impl(c, a, &ss, sl, (uint32_t)a[6]);
}

WASI_FN(sock_shutdown)
{
	int32_t e;
	wasi_fd *f = sock_get(c, (uint32_t)a[0], R_SOCK_SHUTDOWN, &e);
	if (!f)
		return e;
	uint32_t how = (uint32_t)a[1];
	int h = how == SD_RD		 ? SHUT_RD
		: how == SD_WR		 ? SHUT_WR
		: how == (SD_RD | SD_WR) ? SHUT_RDWR
					 : -1;
	if (h < 0)
		return W_EINVAL;
	return shutdown(f->host, h) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

/* sock_getlocaladdr/getpeeraddr V1: (fd, *address, *addr_type, *port); the
 * address buffer gets the raw 4 or 16 bytes, addr_type 4 or 6 (WasmEdge keeps
 * these numbers for old apps, see its "XXX: This is a workaround"). */
static int32_t name_impl(wasi_ctx *c, const uint64_t *a, bool peer)
{
	int32_t e;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint32_t buf, len;
	wasi_fd *f = sock_get(c, (uint32_t)a[0], 0, &e);
	if (!f)
		return e;
	if (wasi_get_u32(c, (uint32_t)a[1], &buf) || wasi_get_u32(c, (uint32_t)a[1] + 4, &len))
		return W_EFAULT;
	uint8_t *out = wasi_mem(c, buf, len);
	if (!out || !wasi_mem(c, (uint32_t)a[2], 4) || !wasi_mem(c, (uint32_t)a[3], 4))
		return W_EFAULT;
	if (len != 4 && len != 16)
		return W_EINVAL;
	memset(&ss, 0, sizeof(ss));
	if ((peer ? getpeername : getsockname)(f->host, (struct sockaddr *)&ss, &sl) < 0)
		return wasi_errno(errno);
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
		memcpy(out, &v4->sin_addr, 4);
		wasi_put_u32(c, (uint32_t)a[2], 4);
		wasi_put_u32(c, (uint32_t)a[3], ntohs(v4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
		if (len < 16)
			return W_ENOBUFS;
		memcpy(out, &v6->sin6_addr, 16);
		wasi_put_u32(c, (uint32_t)a[2], 6);
		wasi_put_u32(c, (uint32_t)a[3], ntohs(v6->sin6_port));
	} else {
		return W_EAFNOSUPPORT;
	}
	return W_ESUCCESS;
}

/* V2: (fd, *address, *port), the address as 128-byte storage {u16 family, address}. */
static int32_t name_impl_v2(wasi_ctx *c, const uint64_t *a, bool peer)
{
	int32_t e;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint32_t buf, len;
	wasi_fd *f = sock_get(c, (uint32_t)a[0], 0, &e);
	if (!f)
		return e;
	if (wasi_get_u32(c, (uint32_t)a[1], &buf) || wasi_get_u32(c, (uint32_t)a[1] + 4, &len))
		return W_EFAULT;
	uint8_t *out = wasi_mem(c, buf, len);
	if (!out || !wasi_mem(c, (uint32_t)a[2], 4))
		return W_EFAULT;
	if (len < 18)
		return W_EINVAL;
	memset(&ss, 0, sizeof(ss));
	if ((peer ? getpeername : getsockname)(f->host, (struct sockaddr *)&ss, &sl) < 0)
		return wasi_errno(errno);
	uint16_t fam;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
		fam = WAF_INET4;
		memcpy(out + 2, &v4->sin_addr, 4);
		wasi_put_u32(c, (uint32_t)a[2], ntohs(v4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
		fam = WAF_INET6;
		memcpy(out + 2, &v6->sin6_addr, 16);
		wasi_put_u32(c, (uint32_t)a[2], ntohs(v6->sin6_port));
	} else {
		return W_EAFNOSUPPORT;
	}
	memcpy(out, &fam, 2);
	return W_ESUCCESS;
}

WASI_FN(sock_getlocaladdr_v2)
{
	return name_impl_v2(c, a, false);
}

WASI_FN(sock_getpeeraddr_v2)
{
	return name_impl_v2(c, a, true);
}

WASI_FN(sock_getlocaladdr)
{
	return name_impl(c, a, false);
}

WASI_FN(sock_getpeeraddr)
{
	return name_impl(c, a, true);
}

/* WasmEdge's SOL_SOCKET option numbers, in order (wasmedge_wasi_socket
 * SocketOptName). SO_BINDTODEVICE (14) is never granted. */
static int sockopt_host(uint32_t level, uint32_t name, int *out)
{
	static const int names[] = {SO_REUSEADDR, SO_TYPE,	SO_ERROR,    SO_DONTROUTE,
				    SO_BROADCAST, SO_SNDBUF,	SO_RCVBUF,   SO_KEEPALIVE,
				    SO_OOBINLINE, SO_LINGER,	SO_RCVLOWAT, SO_RCVTIMEO,
				    SO_SNDTIMEO,  SO_ACCEPTCONN};
	if (level != 0 || name >= sizeof(names) / sizeof(names[0]))
		return -1;
	*out = names[name];
	return 0;
}

/* (fd, level, name, *flag, flag_size): values are ints, struct linger or a
 * 16-byte timeval, which wasm32 wasi-libc lays out as x86-64 does. */
WASI_FN(sock_setsockopt)
{
	int32_t e;
	int opt;
	wasi_fd *f = sock_get(c, (uint32_t)a[0], 0, &e);
	if (!f)
		return e;
	if (sockopt_host((uint32_t)a[1], (uint32_t)a[2], &opt) < 0)
		return (uint32_t)a[2] == 14 ? W_ENOTGRANTED : W_ENOPROTOOPT;
	uint32_t len = (uint32_t)a[4];
	const void *val = wasi_mem(c, (uint32_t)a[3], len);
	if (!val)
		return W_EFAULT;
	if (len > 64)
		return W_EINVAL;
	return setsockopt(f->host, SOL_SOCKET, opt, val, len) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

/* (fd, level, name, *flag, *flag_size) */
WASI_FN(sock_getsockopt)
{
	int32_t e;
	int opt;
	uint32_t len;
	uint8_t tmp[64];
	wasi_fd *f = sock_get(c, (uint32_t)a[0], 0, &e);
	if (!f)
		return e;
	if (sockopt_host((uint32_t)a[1], (uint32_t)a[2], &opt) < 0)
		return (uint32_t)a[2] == 14 ? W_ENOTGRANTED : W_ENOPROTOOPT;
	if (wasi_get_u32(c, (uint32_t)a[4], &len))
		return W_EFAULT;
	uint8_t *out = wasi_mem(c, (uint32_t)a[3], len);
	if (!out)
		return W_EFAULT;
	socklen_t sl = sizeof(tmp);
	if (getsockopt(f->host, SOL_SOCKET, opt, tmp, &sl) < 0)
		return wasi_errno(errno);
	if (opt == SO_TYPE) { /* the guest wants WasmEdge's numbers */
		int t;
		memcpy(&t, tmp, sizeof(t));
		t = t == SOCK_DGRAM ? WST_DGRAM : WST_STREAM;
		memcpy(tmp, &t, sizeof(t));
	}
	if (sl > len)
		sl = len;
	memcpy(out, tmp, sl);
	return wasi_put_u32(c, (uint32_t)a[4], sl);
}

/* sock_getaddrinfo(node, node_len, service, service_len, *hints, *res,
 * max_len, *res_len). Only numeric addresses and the hosts named by --connect
 * resolve (their addresses were looked up before the sandbox closed), so a
 * guest learns nothing about names it was not granted. Results fill the
 * guest's pre-linked __wasi_addrinfo_t chain as WasmEdge's sockGetAddrinfo
 * does: sa_data holds the sockaddr bytes from the port on. */
WASI_FN(sock_getaddrinfo)
{
	char *node = NULL, *service = NULL;
	struct sockaddr_storage addrs[GRANT_ADDRS_MAX];
	uint32_t naddrs = 0, nlen = (uint32_t)a[1], slen = (uint32_t)a[3];
	uint32_t res_ptr = (uint32_t)a[5], max = (uint32_t)a[6], res_len_ptr = (uint32_t)a[7];
	int32_t e;
	uint16_t port = 0;
	/* WasmEdge's callers count the terminating NUL in the lengths. */
	const char *np = wasi_mem(c, (uint32_t)a[0], nlen), *sp = wasi_mem(c, (uint32_t)a[2], slen);
	const uint8_t *hints = wasi_mem(c, (uint32_t)a[4], 28);
	if (!np || !sp || !hints || !wasi_mem(c, res_ptr, 4) || !wasi_mem(c, res_len_ptr, 4))
		return W_EFAULT;
	while (nlen > 0 && np[nlen - 1] == '\0')
		nlen--;
	while (slen > 0 && sp[slen - 1] == '\0')
		slen--;
	if ((e = wasi_str(c, (uint32_t)a[0], nlen, &node)) ||
	    (e = wasi_str(c, (uint32_t)a[2], slen, &service)))
		goto out;
	if (max < 1) {
		e = W_EAI_MEMORY;
		goto out;
	}
	if (service[0]) {
		char *end = NULL;
		unsigned long v = strtoul(service, &end, 10);
		if (*end || v > 65535) {
			e = W_EAI_SERVICE; /* no /etc/services inside the sandbox */
			goto out;
		}
		port = (uint16_t)v;
	}
	uint8_t want_fam = hints[2];
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET, node, &v4.sin_addr) == 1) {
		memcpy(&addrs[naddrs++], &v4, sizeof(v4));
	} else if (inet_pton(AF_INET6, node, &v6.sin6_addr) == 1) {
		memcpy(&addrs[naddrs++], &v6, sizeof(v6));
	} else {
		for (uint32_t i = 0; i < c->grants->nconnect && !naddrs; i++) {
			const grant_connect *g = &c->grants->connect[i];
			if (strcmp(g->host, node) != 0)
				continue;
			for (uint32_t j = 0; j < g->naddrs; j++)
				addrs[naddrs++] = g->addrs[j];
		}
	}
	uint32_t base, count = 0;
	wasi_get_u32(c, res_ptr, &base);
	for (uint32_t i = 0; i < naddrs && count < max; i++) {
		int fam = addrs[i].ss_family;
		if ((want_fam == WAF_INET4 && fam != AF_INET) ||
		    (want_fam == WAF_INET6 && fam != AF_INET6))
			continue;
		uint8_t *ai = wasi_mem(c, base, 28);
		if (!ai) {
			e = W_EFAULT;
			goto out;
		}
		uint32_t sa_ptr, data_ptr, next, data_len = fam == AF_INET ? 14 : 26;
		memcpy(&sa_ptr, ai + 12, 4);
		memcpy(&next, ai + 24, 4);
		uint8_t *sa = wasi_mem(c, sa_ptr, 12);
		if (!sa) {
			e = W_EFAULT;
			goto out;
		}
		memcpy(&data_ptr, sa + 8, 4);
		uint8_t *data = wasi_mem(c, data_ptr, data_len);
		if (!data) {
			e = W_EFAULT;
			goto out;
		}
		uint16_t flags = 0;
		uint32_t addrlen =
			fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memcpy(ai, &flags, 2);
		ai[2] = fam == AF_INET ? WAF_INET4 : WAF_INET6;
		ai[3] = hints[3] ? hints[3] : WST_STREAM;
		ai[4] = hints[4];
		memcpy(ai + 8, &addrlen, 4);
		memset(ai + 20, 0, 4); /* no canonical name */
		sa[0] = ai[2];
		memcpy(sa + 4, &data_len, 4);
		struct sockaddr_storage tmp = addrs[i];
		if (fam == AF_INET)
			((struct sockaddr_in *)&tmp)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&tmp)->sin6_port = htons(port);
		memcpy(data, ((uint8_t *)&tmp) + 2, data_len); /* from sin_port on */
		count++;
		base = next;
	}
	if (count == 0) {
		e = W_EAI_NONAME;
		goto out;
	}
	e = wasi_put_u32(c, res_len_ptr, count);
out:
	free(node);
	free(service);
	return e;
}

#define SOCK_ENTRY(name, fn, params)                                                               \
	{                                                                                          \
		"wasi_snapshot_preview1", name, params, "i", w_##fn##_host                         \
	}

const engine_host_func wasi_sock_funcs[] = {
	SOCK_ENTRY("sock_accept", sock_accept, "iii"),
	SOCK_ENTRY("sock_accept", sock_accept_v1, "ii"),
	SOCK_ENTRY("sock_accept_v2", sock_accept, "iii"),
	SOCK_ENTRY("sock_recv", sock_recv, "iiiiii"),
	SOCK_ENTRY("sock_recv_v2", sock_recv, "iiiiii"),
	SOCK_ENTRY("sock_send", sock_send, "iiiii"),
	SOCK_ENTRY("sock_send_v2", sock_send, "iiiii"),
	SOCK_ENTRY("sock_shutdown", sock_shutdown, "ii"),
	SOCK_ENTRY("sock_open", sock_open, "iii"),
	SOCK_ENTRY("sock_open_v2", sock_open, "iii"),
	SOCK_ENTRY("sock_bind", sock_bind, "iii"),
	SOCK_ENTRY("sock_bind_v2", sock_bind, "iii"),
	SOCK_ENTRY("sock_listen", sock_listen, "ii"),
	SOCK_ENTRY("sock_listen_v2", sock_listen, "ii"),
	SOCK_ENTRY("sock_connect", sock_connect, "iii"),
	SOCK_ENTRY("sock_connect_v2", sock_connect, "iii"),
	SOCK_ENTRY("sock_recv_from", sock_recv_from_v1, "iiiiiii"),
	SOCK_ENTRY("sock_recv_from", sock_recv_from, "iiiiiiii"),
	SOCK_ENTRY("sock_recv_from_v2", sock_recv_from, "iiiiiiii"),
	SOCK_ENTRY("sock_send_to", sock_send_to, "iiiiiii"),
	SOCK_ENTRY("sock_send_to_v2", sock_send_to, "iiiiiii"),
	SOCK_ENTRY("sock_getlocaladdr", sock_getlocaladdr, "iiii"),
	SOCK_ENTRY("sock_getpeeraddr", sock_getpeeraddr, "iiii"),
	SOCK_ENTRY("sock_getlocaladdr_v2", sock_getlocaladdr_v2, "iii"),
	SOCK_ENTRY("sock_getpeeraddr_v2", sock_getpeeraddr_v2, "iii"),
	SOCK_ENTRY("sock_getsockopt", sock_getsockopt, "iiiii"),
	SOCK_ENTRY("sock_setsockopt", sock_setsockopt, "iiiii"),
	SOCK_ENTRY("sock_getaddrinfo", sock_getaddrinfo, "iiiiiiii"),
};
const size_t wasi_sock_nfuncs = sizeof(wasi_sock_funcs) / sizeof(wasi_sock_funcs[0]);
