/* ACME load client for `make bench`: many accounts in parallel each run
 * complete issuances (newOrder, authz, http-01, finalize, download) against
 * an RFC 8555 directory, answering http-01 from a responder inside this
 * process; prints certificates/s and p50/p99 per complete flow.
 *
 * One thread per simulated account, each with its own HTTP/1.1 keep-alive
 * connection over TLS (clients/attest/https.c, one handshake per account;
 * not libcurl, which cost more CPU than the signatures); JWS ES256
 * and the CSRs are made here with OpenSSL. Each flow's CSR (a fresh P-256
 * key for its name) is made before the clock starts, by the account threads
 * as they set up, as bench/device_attest_load.c prepares its evidence: the
 * client's own key generation and CSR encoding (OpenSSL 3.0's encoders) are
 * not what is measured, and they ran on the same two cores as the server.
 * Nothing in the measured path is interpreted. Usage: see usage() below. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients/attest/https.h"
#include "common/b64.h"

#define TOKEN_MAX 128
#define KEYAUTH_MAX 256
#define URL_MAX 512
#define RESP_MAX (64 * 1024)
#define RESPONDER_THREADS 4

struct opts {
	const char *dir;    /* directory URL */
	const char *cacert; /* PEM the server's TLS certificate chains to */
	const char *domain; /* identifiers are f<n>.<domain> */
	int http_port;	    /* where the responder listens */
	int accounts;	    /* threads, one account each */
	long flows;	    /* complete issuances to run */
	int poll_ms;	    /* wait between polls */
	int finalize;	    /* 0: stop at "ready" (no finalize, no download) */
};

/* The directory's URLs. */
static struct {
	char new_nonce[URL_MAX], new_account[URL_MAX], new_order[URL_MAX];
} dir;

static struct opts o = {
	.domain = "bench.test", .accounts = 32, .flows = 1000, .poll_ms = 10, .finalize = 1};

/* Responder table: one slot per account (each has at most one live token). */
struct slot {
	char token[TOKEN_MAX];
	char keyauth[KEYAUTH_MAX];
};
static struct slot *slots;
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_long served;

/* Run state. */
static atomic_long next_flow, done_flows, failed_flows, polls, retries;
static double *lat; /* seconds per completed flow, indexed by completion */
static char **csrs; /* base64url CSR per flow, made before the clock; taken by the flow */
static atomic_int errors_shown;
static pthread_barrier_t ready_barrier;
static atomic_int setup_failed;
static atomic_int aborted; /* a transport failure (a hung server): stop all */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU seconds (user + system, all threads: the accounts and
 * the responder), so the bench can say what the client costs per issuance
 * on the cores it shares with the server. */
static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Prints the first few failures only: a broken server fails every flow. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&errors_shown, 1) >= 5)
		return;
	va_start(ap, fmt);
	fputs("acme_load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- the http-01 responder ---- */

static void responder_set(int idx, const char *token, const char *keyauth)
{
	pthread_mutex_lock(&slots_mu);
	snprintf(slots[idx].token, TOKEN_MAX, "%s", token);
	snprintf(slots[idx].keyauth, KEYAUTH_MAX, "%s", keyauth);
	pthread_mutex_unlock(&slots_mu);
}

/* Copies the key authorization for token into out; 0 if unknown. */
static int responder_get(const char *token, size_t tlen, char *out)
{
	int found = 0;

	if (tlen == 0 || tlen >= TOKEN_MAX)
		return 0;
	pthread_mutex_lock(&slots_mu);
	for (int i = 0; i < o.accounts && !found; i++) {
		if (strlen(slots[i].token) == tlen && memcmp(slots[i].token, token, tlen) == 0) {
			memcpy(out, slots[i].keyauth, KEYAUTH_MAX);
			found = 1;
		}
	}
	pthread_mutex_unlock(&slots_mu);
	return found;
}

/* One request per connection, answered with Connection: close. */
static void responder_serve(int fd)
{
	char req[2048], ka[KEYAUTH_MAX], resp[512];
	size_t n = 0;
	const char *prefix = "GET /.well-known/acme-challenge/";
	struct timeval tv = {2, 0};
	int len;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (n < sizeof req - 1) {
		ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	const char *tok = req + strlen(prefix), *end = strchr(tok, ' ');
	if (strncmp(req, prefix, strlen(prefix)) == 0 && end != NULL &&
	    responder_get(tok, (size_t)(end - tok), ka)) {
		len = snprintf(resp, sizeof resp,
			       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
			       "%zu\r\nConnection: close\r\n\r\n%s",
			       strlen(ka), ka);
		atomic_fetch_add(&served, 1);
	} else {
		len = snprintf(resp, sizeof resp,
			       "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: "
			       "close\r\n\r\n");
	}
	if (len > 0 && (size_t)len < sizeof resp)
		(void)!send(fd, resp, (size_t)len, MSG_NOSIGNAL);
}

static int listen_fds[2];

/* Each responder thread waits in its own epoll set on both listening
 * sockets with EPOLLEXCLUSIVE, so a validation's connection wakes one
 * thread: with poll(2) on shared sockets all four woke and three found
 * nothing to accept (2.2 failed accepts and their wake-ups per issuance). */
static void *responder_main(void *arg)
{
	struct epoll_event ev[2];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	(void)arg;
	for (int i = 0; i < 2 && ep >= 0; i++) {
		struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE,
					.data.fd = listen_fds[i]};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fds[i], &e) != 0) {
			perror("acme_load: responder epoll");
			exit(1);
		}
	}
	if (ep < 0) {
		perror("acme_load: responder epoll");
		exit(1);
	}
	for (;;) {
		int n = epoll_wait(ep, ev, 2, -1);
		for (int i = 0; i < n; i++) {
			int fd = accept(ev[i].data.fd, NULL, NULL);
			if (fd < 0)
				continue;
			responder_serve(fd);
			close(fd);
		}
	}
	return NULL;
}

/* Listens on 127.0.0.1 and [::1] (the validating server may resolve either). */
static int responder_start(int port)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons((uint16_t)port),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int one = 1;
	pthread_t t;

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	listen_fds[1] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (listen_fds[0] < 0 || listen_fds[1] < 0)
		return -1;
	for (int i = 0; i < 2; i++)
		setsockopt(listen_fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(listen_fds[1], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(listen_fds[0], (struct sockaddr *)&a4, sizeof a4) != 0 ||
	    bind(listen_fds[1], (struct sockaddr *)&a6, sizeof a6) != 0 ||
	    listen(listen_fds[0], 512) != 0 || listen(listen_fds[1], 512) != 0) {
		perror("acme_load: responder bind");
		return -1;
	}
	for (int i = 0; i < RESPONDER_THREADS; i++) {
		if (pthread_create(&t, NULL, responder_main, NULL) != 0)
			return -1;
		pthread_detach(t);
	}
	return 0;
}

/* ---- keys and JWS ---- */

struct key {
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *sign; /* EVP_PKEY_sign_init'ed once: each JWS signs a digest with it */
	char jwk[256];	    /* canonical JWK (RFC 7638 member order) */
	char thumb[64];	    /* base64url SHA-256 of jwk */
};

static char *b64u(const void *p, size_t n)
{
	return b64_encode((const uint8_t *)p, n, 1);
}

static int key_make(struct key *k)
{
	uint8_t pub[65], dg[32];
	size_t len = 0;
	char *x = NULL, *y = NULL, *t = NULL;
	int ok = 0;

	k->pkey = EVP_EC_gen("P-256");
	if (k->pkey == NULL || (k->sign = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL ||
	    EVP_PKEY_sign_init(k->sign) <= 0 ||
	    !EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
					     sizeof pub, &len) ||
	    len != 65 || pub[0] != 4)
		goto out;
	x = b64u(pub + 1, 32);
	y = b64u(pub + 33, 32);
	if (x == NULL || y == NULL)
		goto out;
	snprintf(k->jwk, sizeof k->jwk,
		 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
	if (!EVP_Digest(k->jwk, strlen(k->jwk), dg, NULL, EVP_sha256(), NULL) ||
	    (t = b64u(dg, 32)) == NULL)
		goto out;
	snprintf(k->thumb, sizeof k->thumb, "%s", t);
	ok = 1;
out:
	free(x);
	free(y);
	free(t);
	return ok;
}

static EVP_MD *sha256; /* fetched once, before any thread */

/* ES256 over "prot.payload": the raw r||s form JWS wants. NULL on failure.
 * The digest, then a sign with the account's prepared context: what
 * EVP_DigestSign does, without fetching the digest and the signature
 * method and building a context for every request (OpenSSL 3.0's fetches
 * and their locks were a tenth of this client's CPU). */
static char *es256(const struct key *k, const char *input)
{
	unsigned char der[80], rs[64], dg[32];
	const unsigned char *p = der;
	size_t dlen = sizeof der;
	ECDSA_SIG *sig = NULL;
	char *out = NULL;

	if (!EVP_Digest(input, strlen(input), dg, NULL, sha256, NULL) ||
	    EVP_PKEY_sign(k->sign, der, &dlen, dg, sizeof dg) <= 0 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) != 32)
		goto out;
	out = b64u(rs, 64);
out:
	ECDSA_SIG_free(sig);
	return out;
}

/* A flattened JWS; kid NULL means embed the jwk. The caller frees. */
static char *jws(const struct key *k, const char *kid, const char *nonce, const char *url,
		 const char *payload)
{
	char prot[1024], *pb = NULL, *plb = NULL, *sig = NULL, *input = NULL, *body = NULL;
	int n;

	if (kid != NULL)
		n = snprintf(prot, sizeof prot,
			     "{\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"%s\",\"url\":\"%s\"}",
			     kid, nonce, url);
	else
		n = snprintf(prot, sizeof prot,
			     "{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"%s\",\"url\":\"%s\"}",
			     k->jwk, nonce, url);
	if (n < 0 || (size_t)n >= sizeof prot)
		return NULL;
	pb = b64u(prot, strlen(prot));
	plb = b64u(payload, strlen(payload));
	if (pb == NULL || plb == NULL || asprintf(&input, "%s.%s", pb, plb) < 0) {
		input = NULL;
		goto out;
	}
	if ((sig = es256(k, input)) == NULL)
		goto out;
	if (asprintf(&body, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", pb,
		     plb, sig) < 0)
		body = NULL;
out:
	free(pb);
	free(plb);
	free(sig);
	free(input);
	return body;
}

/* A fresh P-256 key and a CSR for name, as base64url DER. */
static char *csr_b64(const char *name)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509_REQ *r = X509_REQ_new();
	X509_NAME *subj = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = NULL;
	char sanv[300];
	unsigned char *der = NULL;
	char *out = NULL;
	int len;

	snprintf(sanv, sizeof sanv, "DNS:%s", name);
	if (pk == NULL || r == NULL || subj == NULL || exts == NULL ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1,
					-1, 0) ||
	    !X509_REQ_set_subject_name(r, subj) || !X509_REQ_set_pubkey(r, pk) ||
	    (san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sanv)) == NULL ||
	    !sk_X509_EXTENSION_push(exts, san))
		goto out;
	san = NULL; /* the stack owns it */
	if (!X509_REQ_add_extensions(r, exts) || X509_REQ_sign(r, pk, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(r, &der)) <= 0)
		goto out;
	out = b64u(der, (size_t)len);
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(r);
	EVP_PKEY_free(pk);
	return out;
}

/* ---- HTTP ---- */

struct client {
	int idx;
	struct key key;
	char kid[URL_MAX];
	char nonce[128];
	char location[URL_MAX];
	struct oa_https_resp resp; /* the last answer */
	char *body;		   /* resp.body: NUL-ended, NULL when empty */
	long status;
	json_t *json; /* body parsed, when it is JSON */
};

/* One HTTP exchange on this thread's kept connection (clients/attest/
 * https.c: HTTP/1.1 keep-alive over OpenSSL, the server's certificate and
 * name checked against --cacert); post NULL is a GET (head: HEAD). 0 on
 * transport error. It replaced libcurl here: curl_easy_perform cost 170 K
 * instructions a request (callgrind), its polls before every read and
 * write a third of the client's kernel time. */
static int http(struct client *c, const char *url, const char *post, int head)
{
	struct oa_https_req q = {
		.method = head	 ? "HEAD"
			  : post ? "POST"
				 : "GET",
		.url = url,
		.headers = post ? "Content-Type: application/jose+json\r\n" : NULL,
		.body = post,
		.len = post ? strlen(post) : 0,
		.timeout_s = 15, /* a hung server fails the flow */
		.ca_file = o.cacert,
		.max = RESP_MAX,
	};
	const char *why = NULL;

	json_decref(c->json);
	c->json = NULL;
	oa_https_resp_free(&c->resp);
	c->body = NULL;
	c->location[0] = '\0';
	if (oa_https_request(&q, &c->resp, &why) != 0) {
		atomic_store(&aborted, 1);
		fail("%s: %s", url, why ? why : "transport failure");
		return 0;
	}
	c->status = c->resp.status;
	c->body = c->resp.body;
	if (c->resp.nonce != NULL)
		snprintf(c->nonce, sizeof c->nonce, "%s", c->resp.nonce);
	if (c->resp.location != NULL)
		snprintf(c->location, sizeof c->location, "%s", c->resp.location);
	if (c->body != NULL && c->resp.content_type != NULL &&
	    strstr(c->resp.content_type, "json") != NULL)
		c->json = json_loadb(c->body, c->resp.len, 0, NULL);
	return 1;
}

static int is_bad_nonce(const struct client *c)
{
	const char *t = json_string_value(json_object_get(c->json, "type"));

	return c->status == 400 && t != NULL && strstr(t, ":badNonce") != NULL;
}

/* A signed POST (payload "" is POST-as-GET); retries badNonce. Returns the
 * status, 0 on a transport or signing failure. */
static long post(struct client *c, const char *url, const char *payload, int with_jwk)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		if (c->nonce[0] == '\0' &&
		    (!http(c, dir.new_nonce, NULL, 1) || c->nonce[0] == '\0'))
			return 0;
		char *body = jws(&c->key, with_jwk ? NULL : c->kid, c->nonce, url, payload);
		c->nonce[0] = '\0';
		if (body == NULL)
			return 0;
		int ok = http(c, url, body, 0);
		free(body);
		if (!ok)
			return 0;
		if (!is_bad_nonce(c))
			return c->status;
		atomic_fetch_add(&retries, 1);
	}
	return c->status;
}

static const char *jstr(const json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

/* Polls url (POST-as-GET) until status is want; 0 on failure or invalid. */
static int poll_until(struct client *c, const char *url, const char *want)
{
	for (int i = 0; i < 60000 / (o.poll_ms > 0 ? o.poll_ms : 1); i++) {
		if (post(c, url, "", 0) != 200)
			return 0;
		const char *st = jstr(c->json, "status");
		if (st != NULL && strcmp(st, want) == 0)
			return 1;
		if (st == NULL || strcmp(st, "invalid") == 0) {
			fail("%s: %s", url, c->body ? c->body : "(no body)");
			return 0;
		}
		atomic_fetch_add(&polls, 1);
		sleep_ms(o.poll_ms);
	}
	fail("%s: still not %s after a minute", url, want);
	return 0;
}

/* One complete issuance for identifier name. 1 on success. */
static int flow(struct client *c, long n)
{
	char name[256], order[URL_MAX], authz[URL_MAX], fin[URL_MAX], chall[URL_MAX], cert[URL_MAX],
		payload[512], ka[KEYAUTH_MAX];
	const char *token = NULL;
	char *csr = NULL;
	int ok = 0;

	snprintf(name, sizeof name, "f%ld.%s", n, o.domain);
	snprintf(payload, sizeof payload, "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}",
		 name);
	if (post(c, dir.new_order, payload, 0) != 201 || c->location[0] == '\0') {
		fail("newOrder: %ld %s (content-type %s, location %s, %zu bytes)", c->status,
		     c->body ? c->body : "", c->resp.content_type ? c->resp.content_type : "none",
		     c->location, c->resp.len);
		goto out;
	}
	snprintf(order, sizeof order, "%s", c->location);
	json_t *az = json_array_get(json_object_get(c->json, "authorizations"), 0);
	if (!json_is_string(az) || jstr(c->json, "finalize") == NULL)
		goto out;
	snprintf(authz, sizeof authz, "%s", json_string_value(az));
	snprintf(fin, sizeof fin, "%s", jstr(c->json, "finalize"));

	if (post(c, authz, "", 0) != 200)
		goto out;
	size_t i;
	json_t *ch;
	chall[0] = '\0';
	json_array_foreach (json_object_get(c->json, "challenges"), i, ch) {
		const char *t = jstr(ch, "type");
		if (t != NULL && strcmp(t, "http-01") == 0 && jstr(ch, "token") &&
		    jstr(ch, "url")) {
			token = jstr(ch, "token");
			snprintf(chall, sizeof chall, "%s", jstr(ch, "url"));
			break;
		}
	}
	if (token == NULL) {
		fail("authz %s: no http-01 challenge", authz);
		goto out;
	}
	snprintf(ka, sizeof ka, "%s.%s", token, c->key.thumb);
	responder_set(c->idx, token, ka);

	if (post(c, chall, "{}", 0) != 200) {
		fail("challenge: %ld %s", c->status, c->body ? c->body : "");
		goto out;
	}
	/* A challenge answered with its outcome (orchardd holds the answer
	 * for the validation) needs no poll: the order's one authorization
	 * is valid, so the order is ready, and lego finalizes then too. */
	const char *cst = jstr(c->json, "status");
	if (cst != NULL && strcmp(cst, "invalid") == 0) {
		fail("challenge: %s", c->body);
		goto out;
	}
	if ((cst == NULL || strcmp(cst, "valid") != 0) && !poll_until(c, order, "ready"))
		goto out;
	if (!o.finalize) {
		ok = 1;
		goto out;
	}
	csr = csrs[n];
	csrs[n] = NULL;
	if (csr == NULL && (csr = csr_b64(name)) == NULL)
		goto out;
	snprintf(payload, sizeof payload, "{\"csr\":\"%s\"}", csr);
	long st = post(c, fin, payload, 0);
	if (st != 200 || jstr(c->json, "status") == NULL) {
		fail("finalize: %ld %s", st, c->body ? c->body : "");
		goto out;
	}
	if (strcmp(jstr(c->json, "status"), "valid") != 0 && !poll_until(c, order, "valid"))
		goto out;
	if (jstr(c->json, "certificate") == NULL)
		goto out;
	snprintf(cert, sizeof cert, "%s", jstr(c->json, "certificate"));
	if (post(c, cert, "", 0) != 200 || c->body == NULL ||
	    strstr(c->body, "-----BEGIN CERTIFICATE-----") == NULL) {
		fail("download: %ld", c->status);
		goto out;
	}
	ok = 1;
out:
	free(csr);
	return ok;
}

static void *account_main(void *arg)
{
	struct client *c = arg;
	int ok = 0;

	if (!key_make(&c->key))
		goto setup_done;
	long st = post(c, dir.new_account, "{\"termsOfServiceAgreed\":true}", 1);
	if ((st != 201 && st != 200) || c->location[0] == '\0') {
		fail("newAccount: %ld %s", st, c->body ? c->body : "");
		goto setup_done;
	}
	snprintf(c->kid, sizeof c->kid, "%s", c->location);
	/* This account's share of the flows' CSRs (flow n's is csrs[n]). */
	for (long n = c->idx; o.finalize && n < o.flows; n += o.accounts) {
		char name[256];
		snprintf(name, sizeof name, "f%ld.%s", n, o.domain);
		if ((csrs[n] = csr_b64(name)) == NULL)
			goto setup_done;
	}
	ok = 1;
setup_done:
	if (!ok)
		atomic_store(&setup_failed, 1);
	pthread_barrier_wait(&ready_barrier);
	if (ok && !atomic_load(&setup_failed)) {
		for (;;) {
			long n = atomic_fetch_add(&next_flow, 1);
			if (n >= o.flows || atomic_load(&aborted))
				break;
			double t0 = now_s();
			if (flow(c, n)) {
				long k = atomic_fetch_add(&done_flows, 1);
				lat[k] = now_s() - t0;
			} else {
				atomic_fetch_add(&failed_flows, 1);
			}
		}
	}
	json_decref(c->json);
	oa_https_resp_free(&c->resp);
	EVP_PKEY_CTX_free(c->key.sign);
	EVP_PKEY_free(c->key.pkey);
	oa_https_done();
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int get_directory(void)
{
	struct client c = {0};
	int ok = 0;

	if (http(&c, o.dir, NULL, 0) && c.status == 200 && jstr(c.json, "newNonce") &&
	    jstr(c.json, "newAccount") && jstr(c.json, "newOrder")) {
		snprintf(dir.new_nonce, URL_MAX, "%s", jstr(c.json, "newNonce"));
		snprintf(dir.new_account, URL_MAX, "%s", jstr(c.json, "newAccount"));
		snprintf(dir.new_order, URL_MAX, "%s", jstr(c.json, "newOrder"));
		ok = 1;
	} else {
		fail("directory %s: %ld %s", o.dir, c.status, c.body ? c.body : "");
	}
	json_decref(c.json);
	oa_https_resp_free(&c.resp);
	oa_https_done();
	return ok;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: acme_load --dir URL --cacert PEM --http-port PORT [--accounts N]\n"
		"                 [--flows N] [--poll-ms MS] [--domain NAME] [--no-finalize]\n"
		"Runs N complete issuances over N accounts in parallel (one thread each),\n"
		"answering http-01 on 127.0.0.1 and [::1] at PORT. Prints one line:\n"
		"certs=N failed=N secs=S rate=R p50_ms=X p99_ms=Y polls=N retries=N ...\n"
		"client_cpu_ms=C (this process's CPU per complete flow, from the clock's start)\n");
	exit(2);
}

static long num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-finalize") == 0) {
			o.finalize = 0;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--dir") == 0)
			o.dir = v;
		else if (strcmp(a, "--cacert") == 0)
			o.cacert = v;
		else if (strcmp(a, "--domain") == 0)
			o.domain = v;
		else if (strcmp(a, "--http-port") == 0)
			o.http_port = (int)num(v, 1, 65535);
		else if (strcmp(a, "--accounts") == 0)
			o.accounts = (int)num(v, 1, 4096);
		else if (strcmp(a, "--flows") == 0)
			o.flows = num(v, 1, 100000000);
		else if (strcmp(a, "--poll-ms") == 0)
			o.poll_ms = (int)num(v, 0, 10000);
		else
			usage();
	}
	if (o.dir == NULL || o.cacert == NULL || o.http_port == 0)
		usage();
	if ((sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return 1;
	slots = calloc((size_t)o.accounts, sizeof *slots);
	lat = calloc((size_t)o.flows, sizeof *lat);
	csrs = calloc((size_t)o.flows, sizeof *csrs);
	struct client *cs = calloc((size_t)o.accounts, sizeof *cs);
	pthread_t *ts = calloc((size_t)o.accounts, sizeof *ts);
	if (slots == NULL || lat == NULL || csrs == NULL || cs == NULL || ts == NULL)
		return 1;
	if (responder_start(o.http_port) != 0 || !get_directory())
		return 1;
	/* Main joins the barrier too, so the clock starts once every account exists. */
	pthread_barrier_init(&ready_barrier, NULL, (unsigned)o.accounts + 1);
	double a0 = now_s();
	for (int i = 0; i < o.accounts; i++) {
		cs[i].idx = i;
		if (pthread_create(&ts[i], NULL, account_main, &cs[i]) != 0) {
			perror("acme_load: pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&ready_barrier);
	double t0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < o.accounts; i++)
		pthread_join(ts[i], NULL);
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	long done = atomic_load(&done_flows);
	if (atomic_load(&setup_failed)) {
		fprintf(stderr, "acme_load: account setup failed\n");
		return 1;
	}
	qsort(lat, (size_t)done, sizeof *lat, cmp_double);
	double p50 = done ? lat[(size_t)((double)(done - 1) * 0.50)] : 0;
	double p99 = done ? lat[(size_t)((double)(done - 1) * 0.99)] : 0;
	printf("certs=%ld failed=%ld secs=%.2f rate=%.1f p50_ms=%.1f p99_ms=%.1f polls=%ld "
	       "retries=%ld served=%ld accounts_secs=%.2f aborted=%d client_cpu_ms=%.3f\n",
	       done, atomic_load(&failed_flows), secs, secs > 0 ? (double)done / secs : 0,
	       p50 * 1e3, p99 * 1e3, atomic_load(&polls), atomic_load(&retries),
	       atomic_load(&served), t0 - a0, atomic_load(&aborted),
	       done ? cpu * 1e3 / (double)done : 0);
	free(slots);
	free(lat);
	free(cs);
	free(ts);
	EVP_MD_free(sha256);
	return atomic_load(&failed_flows) > 0 || done == 0;
}
