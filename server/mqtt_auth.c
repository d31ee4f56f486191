/* The broker plugin's credential socket: one thread polls the listener and
 * up to AUTH_CLIENTS plugin connections (one per broker process), reads
 * line pairs and answers each at once. A device question costs one store
 * round trip, as the HTTPS device API's does. */
#include "server/mqtt_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/ct.h"
#include "common/log.h"
#include "server/hub_auth.h"
#include "server/request.h"

#define AUTH_CLIENTS 16
#define AUTH_LINE_MAX 8192 /* both lines together */

struct auth_client {
	int fd;
	size_t n;
	char buf[AUTH_LINE_MAX];
};

struct mqtt_auth {
	struct server *srv;
	int lfd, wake[2];
	char user[64], secret[80];
	pthread_t thread;
	struct auth_client cl[AUTH_CLIENTS];
};

/* A device's certificate (base64 DER, as the broker verified it) checked
 * by the HTTPS device API's own X.509 code. */
static int x509_check(struct server *srv, const char *device, const char *b64, struct device *dev,
		      enum err_code *err)
{
	size_t n = 0;
	uint8_t *der = b64_decode(b64, strlen(b64), 0, &n);
	const unsigned char *p = der;
	X509 *leaf = der ? d2i_X509(NULL, &p, (long)n) : NULL;
	STACK_OF(X509) *chain = leaf ? sk_X509_new_null() : NULL;
	int rc = -1;

	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (chain != NULL && p == der + n && sk_X509_push(chain, leaf) > 0) {
		leaf = NULL;
		rc = hub_x509_verify(srv, chain, device, dev, err);
	}
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	free(der);
	return rc;
}

/* The answer to one question; name and password as the plugin sent them. */
static int answer(struct mqtt_auth *a, char kind, const char *name, const char *password)
{
	struct device dev;
	enum err_code err = ERR_TWIN_DEVICE_UNAUTHORIZED;

	if (kind == 'B')
		return ct_equal_str(name, a->user) && ct_equal_str(password, a->secret) ? 200 : 401;
	if (kind == 'X') { /* the device's TLS client certificate: base64 DER */
		if (x509_check(a->srv, name, password, &dev, &err) == 0)
			return 200;
	} else if (kind != 'D')
		return 400;
	else if (hub_sas_verify(a->srv, password, name, &dev, &err) == 0)
		return 200;
	log_kv(LOG_INFO, "mqtt device refused", "device", name, "why", err_table[err].type, NULL);
	return (int)err_table[err].http_status;
}

/* Answers every complete question in c's buffer; -1 when c must close. */
static int serve(struct mqtt_auth *a, struct auth_client *c)
{
	for (;;) {
		char *nl1 = memchr(c->buf, '\n', c->n), *nl2, reply[32];
		size_t used;
		int st;

		if (nl1 == NULL ||
		    (nl2 = memchr(nl1 + 1, '\n', c->n - (size_t)(nl1 + 1 - c->buf))) == NULL)
			return c->n == sizeof c->buf ? -1 : 0;
		*nl1 = *nl2 = '\0';
		if (memchr(c->buf, '\0', (size_t)(nl1 - c->buf)) != NULL || c->buf[1] != ' ' ||
		    nl1 - c->buf < 3)
			return -1;
		st = answer(a, c->buf[0], c->buf + 2, nl1 + 1);
		snprintf(reply, sizeof reply, st == 200 ? "OK\n" : "NO %d\n", st);
		if (send(c->fd, reply, strlen(reply), MSG_NOSIGNAL) != (ssize_t)strlen(reply))
			return -1;
		used = (size_t)(nl2 + 1 - c->buf);
		memmove(c->buf, nl2 + 1, c->n - used);
		c->n -= used;
		OPENSSL_cleanse(c->buf + c->n, used); /* no password lingers */
	}
}

static void *auth_main(void *cls)
{
	struct mqtt_auth *a = cls;

	for (;;) {
		struct pollfd p[AUTH_CLIENTS + 2];
		int np = 0;

		p[np++] = (struct pollfd){.fd = a->wake[0], .events = POLLIN};
		p[np++] = (struct pollfd){.fd = a->lfd, .events = POLLIN};
		for (int i = 0; i < AUTH_CLIENTS; i++)
			p[np++] = (struct pollfd){.fd = a->cl[i].fd, .events = POLLIN};
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_bug("poll", "error", strerror(errno));
			return NULL;
		}
		if (p[0].revents)
			return NULL;
		if (p[1].revents & POLLIN) {
			int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
			int i = 0;

			while (i < AUTH_CLIENTS && a->cl[i].fd >= 0)
				i++;
			if (fd >= 0 && i == AUTH_CLIENTS)
				close(fd); /* more brokers than we serve: that one retries */
			else if (fd >= 0)
				a->cl[i] = (struct auth_client){.fd = fd};
		}
		for (int i = 0; i < AUTH_CLIENTS; i++) {
			struct auth_client *c = &a->cl[i];
			ssize_t r;

			if (c->fd < 0 || !(p[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = recv(c->fd, c->buf + c->n, sizeof c->buf - c->n, 0);
			if (r > 0)
				c->n += (size_t)r;
			if (r <= 0 || serve(a, c) != 0) {
				OPENSSL_cleanse(c->buf, sizeof c->buf);
				close(c->fd);
				c->fd = -1;
			}
		}
	}
}

struct mqtt_auth *mqtt_auth_start(struct server *srv, const char *path, const char *backend_user,
				  const char *backend_secret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct mqtt_auth *a = calloc(1, sizeof *a);

	if (a == NULL)
		return NULL;
	a->srv = srv;
	a->lfd = a->wake[0] = a->wake[1] = -1;
	for (int i = 0; i < AUTH_CLIENTS; i++)
		a->cl[i].fd = -1;
	snprintf(a->user, sizeof a->user, "%s", backend_user);
	snprintf(a->secret, sizeof a->secret, "%s", backend_secret);
	if (strlen(path) >= sizeof sa.sun_path) {
		log_kv(LOG_ERROR, "mqtt socket path too long", "path", path, NULL);
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (pipe2(a->wake, O_CLOEXEC) != 0 ||
	    (a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(a->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(path, 0660) != 0 ||
	    listen(a->lfd, 16) != 0) {
		log_kv(LOG_ERROR, "cannot listen for the mqtt plugin", "path", path, "error",
		       strerror(errno), NULL);
		goto fail;
	}
	if (pthread_create(&a->thread, NULL, auth_main, a) != 0)
		goto fail;
	log_kv(LOG_INFO, "mqtt plugin socket", "path", path, NULL);
	return a;
fail:
	if (a->lfd >= 0)
		close(a->lfd);
	if (a->wake[0] >= 0)
		close(a->wake[0]), close(a->wake[1]);
	free(a);
	return NULL;
}

void mqtt_auth_stop(struct mqtt_auth *a)
{
	if (a == NULL)
		return;
	if (write(a->wake[1], "x", 1) != 1)
		log_bug("write", "error", strerror(errno));
	pthread_join(a->thread, NULL);
	for (int i = 0; i < AUTH_CLIENTS; i++)
		if (a->cl[i].fd >= 0)
			close(a->cl[i].fd);
	close(a->lfd);
	close(a->wake[0]);
	close(a->wake[1]);
	free(a);
}
