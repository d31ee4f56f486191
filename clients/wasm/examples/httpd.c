/* httpd.c: Orchard's example app, a small keep-alive HTTP/1.1 server. Built
 * to wasm32-wasi it uses the WasmEdge socket ABI; built natively (bench) the
 * same code runs on POSIX sockets, so the two can be compared. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CONNS 256
#define REQ_MAX 8192

#ifdef __wasi__
#include "wasmedge_socket.h"

static int net_listen(uint16_t port)
{
	uint32_t fd;
	uint8_t any[4] = {0, 0, 0, 0};
	we_address addr = {any, 4};
	uint32_t e = we_sock_open(WE_AF_INET4, WE_SOCK_STREAM, &fd);
	if (e) {
		fprintf(stderr, "httpd: sock_open: %s\n", strerror((int)e));
		return -1;
	}
	if ((e = we_sock_bind(fd, &addr, port)) || (e = we_sock_listen(fd, 128))) {
		fprintf(stderr, "httpd: bind/listen on port %u: %s\n", port, strerror((int)e));
		return -1;
	}
	return (int)fd;
}

static int net_accept(int lfd)
{
	uint32_t fd;
	uint32_t e = we_sock_accept((uint32_t)lfd, &fd);
	if (e) {
		errno = (int)e;
		return -1;
	}
	return (int)fd;
}

static long net_recv(int fd, void *buf, size_t len)
{
	we_iovec iov = {buf, (uint32_t)len};
	uint32_t n = 0;
	uint16_t of = 0;
	uint32_t e = we_sock_recv((uint32_t)fd, &iov, 1, 0, &n, &of);
	if (e) {
		errno = (int)e;
		return -1;
	}
	return (long)n;
}

static long net_send(int fd, const void *buf, size_t len)
{
	we_iovec iov = {(void *)buf, (uint32_t)len};
	uint32_t n = 0;
	uint32_t e = we_sock_send((uint32_t)fd, &iov, 1, 0, &n);
	if (e) {
		errno = (int)e;
		return -1;
	}
	return (long)n;
}
#else
#include <netinet/in.h>
#include <sys/socket.h>

static int net_listen(uint16_t port)
{
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		perror("httpd: listen");
		return -1;
	}
	return fd;
}

static int net_accept(int lfd)
{
	return accept(lfd, NULL, NULL);
}

static long net_recv(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, 0);
}

static long net_send(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL);
}
#endif

typedef struct conn {
	int fd;
	size_t used;
	char req[REQ_MAX];
} conn;

static conn conns[MAX_CONNS];

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		long n = net_send(fd, p, len);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd w = {.fd = fd, .events = POLLOUT};
			poll(&w, 1, 1000);
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The four answers, formatted once at start-up: per request the server
 * only finds the end of the headers and copies bytes. */
static char resp[4][256];
static size_t resp_len[4];

static void responses_init(void)
{
	static const char body[] = "Hello from an Orchard WebAssembly app!\n";
	for (int i = 0; i < 4; i++) {
		const char *conn = (i & 1) ? "Connection: close\r\n" : "";
		int n = i < 2 ? snprintf(
					resp[i], sizeof(resp[i]),
					"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n%s",
					sizeof(body) - 1, conn, body)
			      : snprintf(
					resp[i], sizeof(resp[i]),
					"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n%s\r\nnot found\n",
					conn);
		resp_len[i] = (size_t)n;
	}
}

/* Answers every complete request in c->req; returns -1 to close. */
static int serve(conn *c)
{
	for (;;) {
		char *end = NULL;
		const char *q = c->req;
		for (size_t i = 0; i + 3 < c->used; i++)
			if (q[i] == '\r' && q[i + 1] == '\n' && q[i + 2] == '\r' &&
			    q[i + 3] == '\n') {
				end = c->req + i + 4;
				break;
			}
		if (!end)
			return c->used == REQ_MAX ? -1 : 0;
		size_t len = (size_t)(end - c->req);
		int ok = len > 6 && !memcmp(c->req, "GET / ", 6);
		int close_after = memmem(c->req, len, "Connection: close", 17) != NULL ||
				  memmem(c->req, len, "HTTP/1.0", 8) != NULL;
		int which = (ok ? 0 : 2) + (close_after ? 1 : 0);
		if (send_all(c->fd, resp[which], resp_len[which]) < 0 || close_after)
			return -1;
		memmove(c->req, end, c->used - len);
		c->used -= len;
	}
}

int main(int argc, char **argv)
{
	uint16_t port = (uint16_t)(argc > 1 ? strtoul(argv[1], NULL, 10) : 8080);
	int lfd = net_listen(port);
	if (lfd < 0)
		return 1;
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	printf("httpd: listening on port %u\n", port);
	fflush(stdout);
	responses_init();
	/* conns[0..nconns) are open; pfd[0] is the listener, pfd[1 + i] conns[i]. */
	static struct pollfd pfd[MAX_CONNS + 1];
	int nconns = 0;
	for (;;) {
		pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (int i = 0; i < nconns; i++)
			pfd[1 + i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		if (poll(pfd, (nfds_t)(nconns + 1), -1) < 0)
			continue;
		/* Connections first, from the end, so that closing one (moving the
		 * last into its place) never skips a ready one. */
		for (int i = nconns - 1; i >= 0; i--) {
			if (!pfd[1 + i].revents)
				continue;
			conn *c = &conns[i];
			long r = net_recv(c->fd, c->req + c->used, REQ_MAX - c->used);
			if (r <= 0 || (c->used += (size_t)r, serve(c) < 0)) {
				close(c->fd);
				nconns--;
				if (i != nconns) {
					conns[i].fd = conns[nconns].fd;
					conns[i].used = conns[nconns].used;
					memcpy(conns[i].req, conns[nconns].req, conns[nconns].used);
				}
			}
		}
		if (pfd[0].revents) {
			for (;;) {
				int fd = net_accept(lfd);
				if (fd < 0)
					break;
				if (nconns == MAX_CONNS) {
					close(fd);
					continue;
				}
				conns[nconns].fd = fd;
				conns[nconns].used = 0;
				nconns++;
			}
		}
	}
}
