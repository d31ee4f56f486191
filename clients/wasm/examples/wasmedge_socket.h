/* wasmedge_socket.h: the WasmEdge socket extension as a C guest imports it
 * (module wasi_snapshot_preview1; V1 signatures of WasmEdge's wasifunc.h and
 * second-state/wasmedge_wasi_socket src/socket.rs), for apps built to wasm32-wasi. */
#ifndef WASMEDGE_SOCKET_H
#define WASMEDGE_SOCKET_H

#include <stdint.h>

#define WE_IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))

enum { WE_AF_INET4 = 1, WE_AF_INET6 = 2 };
enum { WE_SOCK_DGRAM = 1, WE_SOCK_STREAM = 2 };
enum {
	WE_SO_REUSEADDR = 0,
	WE_SO_TYPE = 1,
	WE_SO_ERROR = 2,
	WE_SO_KEEPALIVE = 7,
	WE_SO_RCVBUF = 6
};

/* An address: 4 bytes for IPv4, 16 for IPv6. */
typedef struct we_address {
	uint8_t *buf;
	uint32_t buf_len;
} we_address;

typedef struct we_iovec {
	void *buf;
	uint32_t buf_len;
} we_iovec;

typedef struct we_sockaddr {
	uint8_t sa_family;
	uint32_t sa_data_len;
	uint8_t *sa_data;
} we_sockaddr;

typedef struct we_addrinfo {
	uint16_t ai_flags;
	uint8_t ai_family;
	uint8_t ai_socktype;
	uint8_t ai_protocol;
	uint32_t ai_addrlen;
	we_sockaddr *ai_addr;
	char *ai_canonname;
	uint32_t ai_canonname_len;
	struct we_addrinfo *ai_next;
} we_addrinfo;

WE_IMPORT("sock_open") uint32_t we_sock_open(uint32_t af, uint32_t type, uint32_t *fd);
WE_IMPORT("sock_bind") uint32_t we_sock_bind(uint32_t fd, we_address *addr, uint32_t port);
WE_IMPORT("sock_listen") uint32_t we_sock_listen(uint32_t fd, uint32_t backlog);
WE_IMPORT("sock_accept") uint32_t we_sock_accept(uint32_t fd, uint32_t *newfd);
WE_IMPORT("sock_connect") uint32_t we_sock_connect(uint32_t fd, we_address *addr, uint32_t port);
WE_IMPORT("sock_recv")
uint32_t we_sock_recv(uint32_t fd, we_iovec *iov, uint32_t iovcnt, uint16_t flags, uint32_t *n,
		      uint16_t *oflags);
WE_IMPORT("sock_recv_from")
uint32_t we_sock_recv_from(uint32_t fd, we_iovec *iov, uint32_t iovcnt, we_address *addr,
			   uint16_t flags, uint32_t *port, uint32_t *n, uint16_t *oflags);
WE_IMPORT("sock_send")
uint32_t we_sock_send(uint32_t fd, const we_iovec *iov, uint32_t iovcnt, uint16_t flags,
		      uint32_t *n);
WE_IMPORT("sock_send_to")
uint32_t we_sock_send_to(uint32_t fd, const we_iovec *iov, uint32_t iovcnt, we_address *addr,
			 uint32_t port, uint16_t flags, uint32_t *n);
WE_IMPORT("sock_shutdown") uint32_t we_sock_shutdown(uint32_t fd, uint8_t how);
WE_IMPORT("sock_getlocaladdr")
uint32_t we_sock_getlocaladdr(uint32_t fd, we_address *addr, uint32_t *type, uint32_t *port);
WE_IMPORT("sock_getpeeraddr")
uint32_t we_sock_getpeeraddr(uint32_t fd, we_address *addr, uint32_t *type, uint32_t *port);
WE_IMPORT("sock_getsockopt")
uint32_t we_sock_getsockopt(uint32_t fd, int32_t level, int32_t name, int32_t *val, uint32_t *len);
WE_IMPORT("sock_setsockopt")
uint32_t we_sock_setsockopt(uint32_t fd, int32_t level, int32_t name, const int32_t *val,
			    uint32_t len);
WE_IMPORT("sock_getaddrinfo")
uint32_t we_sock_getaddrinfo(const char *node, uint32_t node_len, const char *service,
			     uint32_t service_len, const we_addrinfo *hints, we_addrinfo **res,
			     uint32_t max, uint32_t *res_len);

#endif
