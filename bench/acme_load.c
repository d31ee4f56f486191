/* ACME load client for `make bench`: complete issuances (newOrder ->
 * http-01 answered by a responder in this process -> finalize -> download)
 * by many accounts in parallel, one account and one keep-alive connection
 * per thread, against any RFC 8555 server (orchardd, Pebble). Prints
 * "certs RATE p50 P50MS p99 P99MS errors E n N": RATE counts the flows
 * finished within SECONDS.
 *
 *   acme_load DIRECTORY_URL CA_FILE THREADS SECONDS RESPONDER_PORT
 *
 * The responder needs no table: names are t<thread>-<n>.example.test, so
 * the Host header says whose thumbprint completes the key authorization. */
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/b64.h"

#define MAX_THREADS 256
#define MAX_FLOWS 200000

static const char *g_ca;
static double g_deadline;
static char g_thumb[MAX_THREADS][64];
static char g_dir[8][512]; /* newNonce, newAccount, newOrder */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static double g_lat[MAX_FLOWS];
static size_t g_nlat, g_errors;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the http-01 responder -------------------------------------------------------------- */

static void *responder(void *arg)
{
	int ls = *(int *)arg;

	for (;;) {
		char req[2048], out[512], *tok, *host;
		int fd = accept(ls, NULL, NULL), t = -1;
		ssize_t n;
		size_t len = 0;

		if (fd < 0)
			continue;
		while (len < sizeof req - 1 &&
		       (n = recv(fd, req + len, sizeof req - 1 - len, 0)) > 0) {
			len += (size_t)n;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[len] = '\0';
		tok = strstr(req, "/.well-known/acme-challenge/");
		host = strcasestr(req, "\nHost: t");
		if (tok != NULL && host != NULL)
			t = (int)strtol(host + 8, NULL, 10);
		if (tok != NULL && t >= 0 && t < MAX_THREADS) {
			char token[128];
			size_t k = 0;
			tok += strlen("/.well-known/acme-challenge/");
			while (k < sizeof token - 1 && tok[k] != ' ' && tok[k] != '\0') {
				token[k] = tok[k];
				k++;
			}
			token[k] = '\0';
			char body[256];
			int bl = snprintf(body, sizeof body, "%s.%s", token, g_thumb[t]);
			int ol = snprintf(out, sizeof out,
					  "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: "
					  "close\r\n\r\n%s",
					  bl, body);
			(void)!send(fd, out, (size_t)ol, MSG_NOSIGNAL);
		} else {
			static const char nf[] =
				"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!send(fd, nf, sizeof nf - 1, MSG_NOSIGNAL);
		}
		close(fd);
	}
	return NULL;
}

/* --- JWS (ES256) ------------------------------------------------------------------------- */

struct acct {
	EVP_PKEY *key;
	char jwk[256];
	char kid[512];
	char nonce[128];
	CURL *curl;
	int id;
};

static char *b64u(const void *p, size_t n)
{
	return b64_encode(p, n, 1);
}

static int make_key(struct acct *a)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	uint8_t pub[65], dig[32];
	size_t plen = sizeof pub;
	char *x, *y, canon[256];
	unsigned dl;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) != 1 ||
	    EVP_PKEY_keygen(ctx, &a->key) != 1 ||
	    EVP_PKEY_get_octet_string_param(a->key, "pub", pub, sizeof pub, &plen) != 1 ||
	    plen != 65) {
		EVP_PKEY_CTX_free(ctx);
		return -1;
	}
	EVP_PKEY_CTX_free(ctx);
	x = b64u(pub + 1, 32);
	y = b64u(pub + 33, 32);
	snprintf(a->jwk, sizeof a->jwk,
		 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
	snprintf(canon, sizeof canon, "%s", a->jwk);
	EVP_Digest(canon, strlen(canon), dig, &dl, EVP_sha256(), NULL);
	char *t = b64u(dig, 32);
	snprintf(g_thumb[a->id], sizeof g_thumb[a->id], "%s", t);
	free(t);
	free(x);
	free(y);
	return 0;
}

/* The flattened JWS of payload (NULL: POST-as-GET) for url, malloc'd. */
static char *jws(struct acct *a, const char *url, const char *payload)
{
	char prot[1024], *p64, *y64, *s64, *out, *input;
	uint8_t der[80], raw[64];
	size_t dlen = sizeof der, n;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig;
	const uint8_t *dp = der;

	if (a->kid[0])
		snprintf(prot, sizeof prot,
			 "{\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"%s\",\"url\":\"%s\"}",
			 a->kid, a->nonce, url);
	else
		snprintf(prot, sizeof prot,
			 "{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"%s\",\"url\":\"%s\"}", a->jwk,
			 a->nonce, url);
	p64 = b64u(prot, strlen(prot));
	y64 = payload ? b64u(payload, strlen(payload)) : strdup("");
	n = strlen(p64) + strlen(y64) + 2;
	input = malloc(n);
	snprintf(input, n, "%s.%s", p64, y64);
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, a->key) != 1 ||
	    EVP_DigestSign(md, der, &dlen, (uint8_t *)input, strlen(input)) != 1)
		dlen = 0;
	EVP_MD_CTX_free(md);
	sig = d2i_ECDSA_SIG(NULL, &dp, (long)dlen);
	memset(raw, 0, sizeof raw);
	if (sig != NULL) {
		BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
		ECDSA_SIG_free(sig);
	}
	s64 = b64u(raw, 64);
	n = strlen(p64) + strlen(y64) + strlen(s64) + 64;
	out = malloc(n);
	snprintf(out, n, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", p64, y64,
		 s64);
	free(p64);
	free(y64);
	free(s64);
	free(input);
	return out;
}

/* --- HTTP -------------------------------------------------------------------------------- */

struct resp {
	long status;
	char body[65536];
	size_t len;
	char location[512];
	char nonce[128];
};

static size_t on_body(char *p, size_t sz, size_t n, void *cls)
{
	struct resp *r = cls;
	size_t k = sz * n;

	if (r->len + k >= sizeof r->body)
		k = sizeof r->body - 1 - r->len;
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = '\0';
	return sz * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), k;

	if (n <= nl || strncasecmp(line, name, nl) != 0)
		return;
	line += nl;
	n -= nl;
	while (n > 0 && *line == ' ') {
		line++;
		n--;
	}
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	k = n < cap - 1 ? n : cap - 1;
	memcpy(out, line, k);
	out[k] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *cls)
{
	struct resp *r = cls;

	header_value(p, sz * n, "Location:", r->location, sizeof r->location);
	header_value(p, sz * n, "Replay-Nonce:", r->nonce, sizeof r->nonce);
	return sz * n;
}

/* One request: POST body (JOSE) or, with body NULL, HEAD. */
static int http(struct acct *a, const char *url, const char *body, struct resp *r)
{
	struct curl_slist *h = NULL;
	CURLcode rc;

	r->status = 0;
	r->len = 0;
	r->body[0] = r->location[0] = r->nonce[0] = '\0';
	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_CAINFO, g_ca);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, 10L);
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/jose+json");
		curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(a->curl, CURLOPT_NOBODY, 1L);
	}
	rc = curl_easy_perform(a->curl);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(r->body, sizeof r->body, "%s: %s", url, curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->nonce[0])
		snprintf(a->nonce, sizeof a->nonce, "%s", r->nonce);
	return 0;
}

/* A signed POST, retried on badNonce (Pebble refuses some on purpose). */
static int post(struct acct *a, const char *url, const char *payload, struct resp *r)
{
	for (int i = 0; i < 5; i++) {
		char *b;
		int rc;
		if (!a->nonce[0] && http(a, g_dir[0], NULL, r) != 0)
			return -1;
		b = jws(a, url, payload);
		a->nonce[0] = '\0';
		rc = http(a, url, b, r);
		free(b);
		if (rc != 0)
			return -1;
		if (r->status == 400 && strstr(r->body, "badNonce"))
			continue;
		return r->status < 300 ? 0 : -1;
	}
	return -1;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A DER CSR for name with a fresh P-256 key, base64url. */
static char *csr_for(const char *name)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *nm = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	char san[300];
	uint8_t *der = NULL;
	int n;
	char *out = NULL;

	snprintf(san, sizeof san, "DNS:%s", name);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const uint8_t *)name, -1, -1, 0);
	X509_REQ_set_subject_name(req, nm);
	X509_REQ_set_pubkey(req, k);
	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san));
	X509_REQ_add_extensions(req, exts);
	if (X509_REQ_sign(req, k, EVP_sha256()) > 0 && (n = i2d_X509_REQ(req, &der)) > 0)
		out = b64u(der, (size_t)n);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(nm);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return out;
}

/* POST-as-GET url until its status is not pending/processing; the last
 * object into *out. */
static int poll_until(struct acct *a, const char *url, struct resp *r, json_t **out)
{
	for (int i = 0; i < 2000; i++) {
		const char *st;
		if (post(a, url, NULL, r) != 0)
			return -1;
		json_decref(*out);
		*out = json_loads(r->body, 0, NULL);
		st = jstr(*out, "status");
		if (st == NULL)
			return -1;
		if (strcmp(st, "pending") != 0 && strcmp(st, "processing") != 0)
			return 0;
		usleep(2000);
	}
	return -1;
}

static int flow(struct acct *a, int n, struct resp *r)
{
	char name[128], payload[512], order_url[512], fin[512], authz[512], chall[512], cert[512];
	json_t *o = NULL, *az = NULL, *ch;
	char *csr = NULL;
	size_t i;
	int rc = -1;

	snprintf(name, sizeof name, "t%d-%d.example.test", a->id, n);
	snprintf(payload, sizeof payload, "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}",
		 name);
	if (post(a, g_dir[2], payload, r) != 0 || r->status != 201)
		goto out;
	snprintf(order_url, sizeof order_url, "%s", r->location);
	o = json_loads(r->body, 0, NULL);
	snprintf(fin, sizeof fin, "%s", jstr(o, "finalize") ? jstr(o, "finalize") : "");
	snprintf(authz, sizeof authz, "%s",
		 json_string_value(json_array_get(json_object_get(o, "authorizations"), 0)));
	if (post(a, authz, NULL, r) != 0)
		goto out;
	az = json_loads(r->body, 0, NULL);
	chall[0] = '\0';
	json_array_foreach (json_object_get(az, "challenges"), i, ch)
		if (strcmp(jstr(ch, "type"), "http-01") == 0)
			snprintf(chall, sizeof chall, "%s", jstr(ch, "url"));
	if (!chall[0] || post(a, chall, "{}", r) != 0)
		goto out;
	if (poll_until(a, authz, r, &az) != 0 || strcmp(jstr(az, "status"), "valid") != 0)
		goto out;
	if ((csr = csr_for(name)) == NULL)
		goto out;
	snprintf(payload, sizeof payload, "{\"csr\":\"%s\"}", csr);
	if (post(a, fin, payload, r) != 0)
		goto out;
	json_decref(o);
	o = json_loads(r->body, 0, NULL);
	if (jstr(o, "status") && strcmp(jstr(o, "status"), "valid") != 0 &&
	    poll_until(a, order_url, r, &o) != 0)
		goto out;
	if (jstr(o, "certificate") == NULL)
		goto out;
	snprintf(cert, sizeof cert, "%s", jstr(o, "certificate"));
	if (post(a, cert, NULL, r) != 0 || strstr(r->body, "BEGIN CERTIFICATE") == NULL)
		goto out;
	rc = 0;
out:
	free(csr);
	json_decref(o);
	json_decref(az);
	return rc;
}

static void *worker(void *arg)
{
	struct acct *a = arg;
	struct resp *r = malloc(sizeof *r);
	int n = 0;

	a->curl = curl_easy_init();
	if (post(a, g_dir[1], "{\"termsOfServiceAgreed\":true}", r) != 0) {
		fprintf(stderr, "account %d: %ld %s\n", a->id, r->status, r->body);
		pthread_mutex_lock(&g_mu);
		g_errors++;
		pthread_mutex_unlock(&g_mu);
		goto out;
	}
	snprintf(a->kid, sizeof a->kid, "%s", r->location);
	while (now_s() < g_deadline) {
		double t0 = now_s();
		int rc = flow(a, n++, r);
		pthread_mutex_lock(&g_mu);
		if (rc == 0 && now_s() > g_deadline) /* finished late: not in the window */
			;
		else if (rc == 0 && g_nlat < MAX_FLOWS)
			g_lat[g_nlat++] = now_s() - t0;
		else if (rc != 0) {
			if (g_errors++ < 3)
				fprintf(stderr, "flow failed: %ld %.300s\n", r->status, r->body);
		}
		pthread_mutex_unlock(&g_mu);
	}
out:
	curl_easy_cleanup(a->curl);
	free(r);
	return NULL;
}

static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
	static struct acct accts[MAX_THREADS];
	pthread_t th[MAX_THREADS], rt[4];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct acct boot = {0};
	struct resp *r = malloc(sizeof *r);
	int nthreads, secs, ls, one = 1;
	double t0, el;
	json_t *dir;

	if (argc != 6) {
		fprintf(stderr, "usage: acme_load DIRECTORY CA THREADS SECONDS RESPONDER_PORT\n");
		return 2;
	}
	g_ca = argv[2];
	nthreads = (int)strtol(argv[3], NULL, 10);
	secs = (int)strtol(argv[4], NULL, 10);
	if (nthreads < 1 || nthreads > MAX_THREADS || secs < 1)
		return 2;
	curl_global_init(CURL_GLOBAL_ALL);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_port = htons((uint16_t)strtol(argv[5], NULL, 10));
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1024) != 0) {
		perror("responder");
		return 1;
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&rt[i], NULL, responder, &ls);
	/* The directory. */
	boot.curl = curl_easy_init();
	curl_easy_setopt(boot.curl, CURLOPT_HTTPGET, 1L);
	r->len = 0;
	curl_easy_setopt(boot.curl, CURLOPT_URL, argv[1]);
	curl_easy_setopt(boot.curl, CURLOPT_CAINFO, g_ca);
	curl_easy_setopt(boot.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(boot.curl, CURLOPT_WRITEDATA, r);
	if (curl_easy_perform(boot.curl) != CURLE_OK ||
	    (dir = json_loads(r->body, 0, NULL)) == NULL) {
		fprintf(stderr, "cannot read the directory %s\n", argv[1]);
		return 1;
	}
	curl_easy_cleanup(boot.curl);
	snprintf(g_dir[0], sizeof g_dir[0], "%s", jstr(dir, "newNonce"));
	snprintf(g_dir[1], sizeof g_dir[1], "%s", jstr(dir, "newAccount"));
	snprintf(g_dir[2], sizeof g_dir[2], "%s", jstr(dir, "newOrder"));
	json_decref(dir);
	for (int i = 0; i < nthreads; i++) {
		accts[i].id = i;
		if (make_key(&accts[i]) != 0)
			return 1;
	}
	t0 = now_s();
	g_deadline = t0 + secs;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, &accts[i]);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	/* The rate counts flows finished inside the window: a server that
	 * stops answering (Pebble under load) shows as errors, not as a
	 * longer window. */
	el = (double)secs;
	(void)t0;
	qsort(g_lat, g_nlat, sizeof g_lat[0], cmp_d);
	printf("certs %.1f p50 %.1f p99 %.1f errors %zu n %zu\n", (double)g_nlat / el,
	       g_nlat ? 1000 * g_lat[g_nlat / 2] : 0.0,
	       g_nlat ? 1000 * g_lat[(size_t)((double)g_nlat * 0.99)] : 0.0, g_errors, g_nlat);
	free(r);
	return 0;
}
