/* A load client for orchardd's DPS device API: registers symmetric-key
 * devices of one enrollment group end to end (PUT .../register, then GET
 * .../operations/{operationId} until the device is assigned), over
 * HTTP/1.1 keep-alive TLS connections, one thread each, and prints
 * registrations/s with p50/p99/max latency. Device keys are derived from
 * the group key as Azure's SDKs do: base64(HMAC-SHA256(groupKey, regId)).
 *
 *   dps_load --host 127.0.0.1 --port P --cacert root.pem --scope 0ne...
 *            --group-key B64 [--devices N] [--connections C] [--prefix p]
 *            [--api-version V]
 *
 * Exits 1 when any registration did not end assigned. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

static const char *host = "127.0.0.1", *cacert, *scope, *prefix = "bench";
static const char *api_version = "2019-03-31";
static int port, devices = 10000, connections = 32;
static unsigned char group_key[64];
static int group_key_len;
static SSL_CTX *ctx;
static atomic_int next_device, failures, polls;
static double *latency_ms; /* one per device */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* base64 of n bytes into out (NUL-terminated); returns its length. */
static int b64(const unsigned char *in, int n, char *out)
{
	return EVP_EncodeBlock((unsigned char *)out, in, n);
}

/* Percent-encodes s into out (cap bytes): enough for base64 signatures. */
static void urlenc(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 4 < cap; s++) {
		if (*s == '+' || *s == '/' || *s == '=')
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", (unsigned char)*s);
		else
			out[o++] = *s;
	}
	out[o] = '\0';
}

/* The device SAS for regid, valid for an hour. */
static void sas(const char *regid, char *out, size_t cap)
{
	unsigned char dkey[32], sig[32];
	unsigned int dlen = sizeof dkey, slen = sizeof sig;
	char dkey64[64], sig64[64], sigenc[128], sr[256], msg[300];
	long long se = (long long)time(NULL) + 3600;

	HMAC(EVP_sha256(), group_key, group_key_len, (const unsigned char *)regid, strlen(regid),
	     dkey, &dlen);
	b64(dkey, (int)dlen, dkey64); /* the device key is used as base64-decoded bytes: dkey */
	snprintf(sr, sizeof sr, "%s/registrations/%s", scope, regid);
	int n = snprintf(msg, sizeof msg, "%s\n%lld", sr, se);
	HMAC(EVP_sha256(), dkey, (int)dlen, (const unsigned char *)msg, (size_t)n, sig, &slen);
	b64(sig, (int)slen, sig64);
	urlenc(sig64, sigenc, sizeof sigenc);
	snprintf(out, cap, "SharedAccessSignature sr=%s&sig=%s&se=%lld&skn=registration", sr,
		 sigenc, se);
}

struct conn {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t have;
};

static int conn_open(struct conn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;

	c->have = 0;
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
		goto fail;
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	if (SSL_connect(c->ssl) != 1)
		goto fail;
	return 0;
fail:
	ERR_print_errors_fp(stderr);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	return -1;
}

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Sends req and reads one response: *status, the Retry-After seconds
 * (-1: none) and the body (NUL-terminated, in body[cap]). -1 on a broken
 * connection. */
static int roundtrip(struct conn *c, const char *req, size_t len, int *status, int *retry,
		     char *body, size_t cap)
{
	if (SSL_write(c->ssl, req, (int)len) != (int)len)
		return -1;
	for (;;) {
		c->buf[c->have] = '\0';
		char *end = strstr(c->buf, "\r\n\r\n");
		if (end != NULL) {
			size_t hlen = (size_t)(end + 4 - c->buf), blen = 0;
			char *p;
			*retry = -1;
			if (strncmp(c->buf, "HTTP/1.1 ", 9) != 0)
				return -1;
			*status = (int)strtol(c->buf + 9, NULL, 10);
			for (p = c->buf; p < end; p = strstr(p, "\r\n") + 2) {
				if (strncasecmp(p, "content-length:", 15) == 0)
					blen = strtoul(p + 15, NULL, 10);
				else if (strncasecmp(p, "retry-after:", 12) == 0)
					*retry = (int)strtol(p + 12, NULL, 10);
			}
			if (hlen + blen >= sizeof c->buf || blen >= cap)
				return -1;
			if (c->have >= hlen + blen) {
				memcpy(body, c->buf + hlen, blen);
				body[blen] = '\0';
				memmove(c->buf, c->buf + hlen + blen, c->have - hlen - blen);
				c->have -= hlen + blen;
				return 0;
			}
		}
		if (c->have + 1 >= sizeof c->buf)
			return -1;
		int n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof c->buf - 1 - c->have));
		if (n <= 0)
			return -1;
		c->have += (size_t)n;
	}
}

/* The value of "key":"..." in a flat JSON reply, into out. */
static int json_str(const char *body, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	if ((p = strstr(body, pat)) == NULL)
		return -1;
	p += strlen(pat);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= cap)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return 0;
}

/* Registers device i; returns 0 when it ended assigned. */
static int register_one(struct conn *c, int i)
{
	char regid[128], auth[512], req[2048], body[8192], status[32], opid[128];
	int code, retry, n;

	snprintf(regid, sizeof regid, "%s-%07d", prefix, i);
	sas(regid, auth, sizeof auth);
	char json[200];
	int jl = snprintf(json, sizeof json, "{\"registrationId\":\"%s\"}", regid);
	n = snprintf(req, sizeof req,
		     "PUT /%s/registrations/%s/register?api-version=%s HTTP/1.1\r\n"
		     "Host: localhost\r\nAuthorization: %s\r\n"
		     "Content-Type: application/json; charset=utf-8\r\n"
		     "Content-Length: %d\r\n\r\n%s",
		     scope, regid, api_version, auth, jl, json);
	if (roundtrip(c, req, (size_t)n, &code, &retry, body, sizeof body) != 0)
		return -2;
	for (int tries = 0;; tries++) {
		if (json_str(body, "status", status, sizeof status) != 0) {
			fprintf(stderr, "%s: HTTP %d %s\n", regid, code, body);
			return -1;
		}
		if (strcmp(status, "assigned") == 0)
			return 0;
		if (strcmp(status, "assigning") != 0 || tries > 2000 ||
		    json_str(body, "operationId", opid, sizeof opid) != 0) {
			fprintf(stderr, "%s: HTTP %d %s\n", regid, code, body);
			return -1;
		}
		/* Honour Retry-After only when it is small: a second per
		 * device would measure our sleeping, not the server. */
		usleep(retry == 0 ? 1000 : retry == 1 ? 20000 : 50000);
		atomic_fetch_add(&polls, 1);
		n = snprintf(req, sizeof req,
			     "GET /%s/registrations/%s/operations/%s?api-version=%s HTTP/1.1\r\n"
			     "Host: localhost\r\nAuthorization: %s\r\n\r\n",
			     scope, regid, opid, api_version, auth);
		if (roundtrip(c, req, (size_t)n, &code, &retry, body, sizeof body) != 0)
			return -2;
	}
}

static void *worker(void *arg)
{
	struct conn c = {.fd = -1};
	int i;

	(void)arg;
	if (conn_open(&c) != 0) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	while ((i = atomic_fetch_add(&next_device, 1)) < devices) {
		double t0 = now_ms();
		int rc = register_one(&c, i);
		if (rc == -2) { /* the connection broke: one reconnect */
			conn_close(&c);
			if (conn_open(&c) != 0 || (rc = register_one(&c, i)) != 0) {
				atomic_fetch_add(&failures, 1);
				break;
			}
		} else if (rc != 0) {
			atomic_fetch_add(&failures, 1);
		}
		latency_ms[i] = now_ms() - t0;
	}
	conn_close(&c);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *gk = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--host") == 0)
			host = v;
		else if (strcmp(k, "--port") == 0)
			port = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--cacert") == 0)
			cacert = v;
		else if (strcmp(k, "--scope") == 0)
			scope = v;
		else if (strcmp(k, "--group-key") == 0)
			gk = v;
		else if (strcmp(k, "--devices") == 0)
			devices = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--connections") == 0)
			connections = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--prefix") == 0)
			prefix = v;
		else if (strcmp(k, "--api-version") == 0)
			api_version = v;
		else {
			fprintf(stderr, "dps_load: unknown option %s\n", k);
			return 2;
		}
	}
	if (port <= 0 || scope == NULL || gk == NULL || cacert == NULL || devices <= 0 ||
	    connections <= 0) {
		fprintf(stderr, "usage: dps_load --port P --cacert PEM --scope S --group-key B64"
				" [--devices N] [--connections C] [--prefix P]\n");
		return 2;
	}
	unsigned char raw[100];
	int n = EVP_DecodeBlock(raw, (const unsigned char *)gk, (int)strlen(gk));
	if (n <= 0 || n > 96)
		return 2;
	group_key_len = n - (int)(strlen(gk) > 1 && gk[strlen(gk) - 1] == '=') -
			(int)(strlen(gk) > 2 && gk[strlen(gk) - 2] == '=');
	memcpy(group_key, raw, (size_t)group_key_len);

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return 2;
	}
	latency_ms = calloc((size_t)devices, sizeof *latency_ms);
	pthread_t *t = calloc((size_t)connections, sizeof *t);
	double t0 = now_ms();
	for (int i = 0; i < connections; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < connections; i++)
		pthread_join(t[i], NULL);
	double wall = (now_ms() - t0) / 1e3;
	qsort(latency_ms, (size_t)devices, sizeof *latency_ms, cmp_double);
	printf("%d registrations over %d connections in %.2f s: %.0f registrations/s, "
	       "p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d polls, %d failed\n",
	       devices, connections, wall, devices / wall, latency_ms[devices / 2],
	       latency_ms[(int)(devices * 0.99)], latency_ms[devices - 1], atomic_load(&polls),
	       atomic_load(&failures));
	free(latency_ms);
	free(t);
	SSL_CTX_free(ctx);
	return atomic_load(&failures) ? 1 : 0;
}
