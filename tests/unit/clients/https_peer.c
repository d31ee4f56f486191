/* The device HTTPS client tests' peer (https_peer.h): accepts one
 * connection at a time, TLS when asked, reads each request head and body,
 * and writes the next canned answer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/clients/https_peer.h"

struct peer P;

long long ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ssize_t p_read(SSL *s, int fd, char *b, size_t n)
{
	if (!s)
		return recv(fd, b, n, 0);
	size_t got = 0;
	return SSL_read_ex(s, b, n, &got) ? (ssize_t)got : -1;
}

static void p_write(SSL *s, int fd, const char *b, size_t n)
{
	size_t done = 0;
	if (s)
		SSL_write_ex(s, b, n, &done);
	else if (send(fd, b, n, MSG_NOSIGNAL) < 0)
		return;
}

static void *peer_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(P.lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		P.accepts++;
		SSL *s = NULL;
		if (P.tls) {
			s = SSL_new(P.tls);
			SSL_set_fd(s, fd);
			if (SSL_accept(s) != 1) {
				ERR_clear_error();
				SSL_free(s);
				close(fd);
				continue;
			}
			snprintf(P.tls_version, sizeof(P.tls_version), "%s", SSL_get_version(s));
			X509 *c = SSL_get1_peer_certificate(s);
			P.client_cert = c != NULL;
			X509_free(c);
		}
		for (bool open = true; open;) {
			size_t n = 0;
			char *end = NULL;
			P.buf[0] = '\0';
			while (!(end = strstr(P.buf, "\r\n\r\n"))) {
				ssize_t r = p_read(s, fd, P.buf + n, sizeof(P.buf) - 1 - n);
				if (r <= 0) {
					open = false;
					break;
				}
				n += (size_t)r;
				P.buf[n] = '\0';
			}
			if (!open)
				break;
			const char *a = P.next < ANSWERS_MAX ? P.answers[P.next] : NULL;
			if (strcasestr(P.buf, "Expect: 100-continue") && a) {
				if (strstr(a, " 413 ")) { /* refused unread, as orchardd's cap */
					P.next++;
					memcpy(P.req, P.buf, n + 1);
					p_write(s, fd, a + 1, strlen(a + 1));
					break;
				}
				p_write(s, fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			}
			const char *cl = strcasestr(P.buf, "Content-Length:");
			size_t want =
				(size_t)(end + 4 - P.buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
			while (n < want) {
				ssize_t r = p_read(s, fd, P.buf + n, sizeof(P.buf) - 1 - n);
				if (r <= 0)
					break;
				n += (size_t)r;
				P.buf[n] = '\0';
			}
			memcpy(P.req, P.buf, n + 1);
			P.next++;
			if (!a || !a[0]) { /* hang: the client's deadline or interrupt */
				char b[64];
				while (p_read(s, fd, b, sizeof(b)) > 0)
					;
				break;
			}
			bool close_after = a[0] == CLOSE[0];
			if (close_after)
				a++;
			p_write(s, fd, a, strlen(a));
			open = !close_after;
		}
		if (s) {
			SSL_shutdown(s);
			SSL_free(s);
		}
		close(fd);
		ERR_clear_error();
	}
}

/* A listening socket on 127.0.0.1, its port in *port. */
int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&a, &al);
	*port = ntohs(a.sin_port);
	return fd;
}

void peer_start(SSL_CTX *tls)
{
	memset(&P, 0, sizeof(P));
	P.tls = tls;
	P.lfd = listen_loopback(&P.port);
	pthread_create(&P.th, NULL, peer_main, NULL);
}

/* The client's kept connection closes first: the peer waits on it. */
void peer_stop(void)
{
	oa_https_done();
	shutdown(P.lfd, SHUT_RDWR);
	close(P.lfd);
	pthread_join(P.th, NULL);
}

void answers(const char *a0, const char *a1, const char *a2)
{
	P.answers[0] = a0;
	P.answers[1] = a1;
	P.answers[2] = a2;
	P.next = 0;
}

static char url[128];
const char *U(const char *scheme, const char *host, const char *path)
{
	snprintf(url, sizeof(url), "%s://%s:%d%s", scheme, host, P.port, path);
	return url;
}

int get(const char *method, const char *u, struct oa_https_resp *r, const char **why)
{
	struct oa_https_req q = {.method = method, .url = u, .timeout_s = 5};
	return oa_https_request(&q, r, why);
}

/* A failed request leaves nothing in *r. */
void assert_empty(const struct oa_https_resp *r)
{
	assert_int_equal(r->status, 0);
	assert_null(r->body);
	assert_null(r->location);
	assert_null(r->nonce);
}
