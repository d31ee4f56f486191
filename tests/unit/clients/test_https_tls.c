/* clients/attest/https.c over TLS, against the test peer
 * (https_peer.c) with certificates made here: the roots and the host name
 * checked, the TLS 1.2 cap, the client certificate, and https_proxy's
 * CONNECT tunnel (a proxy in a second thread). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/clients/https_peer.h"

/* A self-signed certificate for san (e.g. "IP:127.0.0.1") with a new
 * P-256 key, as PEM into pem (NUL-ended) and objects. */
static X509 *self_signed(const char *san, EVP_PKEY **key, char *pem, size_t max)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)san, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	int n = BIO_read(b, pem, (int)max - 1);
	assert_true(n > 0);
	pem[n] = '\0';
	BIO_free(b);
	*key = k;
	return x;
}

static char ca_path[64], server_pem[4096], other_pem[4096], client_pem[4096];
static X509 *server_cert, *other_cert, *client_cert;
static EVP_PKEY *server_key, *other_key, *client_key;

static SSL_CTX *server_ctx(X509 *cert, EVP_PKEY *key, bool want_client)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(c, cert);
	SSL_CTX_use_PrivateKey(c, key);
	if (want_client) {
		X509_STORE_add_cert(SSL_CTX_get_cert_store(c), client_cert);
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return c;
}

static int tls_setup(void **state)
{
	(void)state;
	server_cert = self_signed("IP:127.0.0.1,DNS:localhost", &server_key, server_pem,
				  sizeof(server_pem));
	other_cert = self_signed("DNS:other.example", &other_key, other_pem, sizeof(other_pem));
	client_cert = self_signed("DNS:device-1", &client_key, client_pem, sizeof(client_pem));
	snprintf(ca_path, sizeof(ca_path), "/tmp/test_https.%d.pem", (int)getpid());
	FILE *f = fopen(ca_path, "w");
	assert_non_null(f);
	fputs(server_pem, f);
	fputs(other_pem, f);
	fclose(f);
	return 0;
}

static int tls_teardown(void **state)
{
	(void)state;
	unlink(ca_path);
	X509_free(server_cert);
	X509_free(client_cert);
	X509_free(other_cert);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(server_key);
	EVP_PKEY_free(client_key);
	return 0;
}

static int tls_get(const char *host, const char *ca, struct oa_https_resp *r, const char **why)
{
	struct oa_https_req q = {
		.method = "GET", .url = U("https", host, "/t"), .timeout_s = 5, .ca_file = ca};
	return oa_https_request(&q, r, why);
}

/* The ca_file's roots and the URL's host checked; TLS 1.3 by default, 1.2
 * when capped. */
static void test_tls_roots_and_host(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	SSL_CTX *sc = server_ctx(server_cert, server_key, false);
	peer_start(sc);
	for (int i = 0; i < ANSWERS_MAX; i++)
		P.answers[i] = CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	assert_string_equal(r.body, "ok");
	assert_string_equal(P.tls_version, "TLSv1.3");
	oa_https_resp_free(&r);
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
	oa_https_resp_free(&r);
	/* Not a root of the system's. */
	assert_int_equal(tls_get("127.0.0.1", NULL, &r, &why), -1);
	assert_non_null(strstr(why, "certificate"));
	assert_empty(&r);
	assert_int_equal(tls_get("127.0.0.1", "/nonexistent.pem", &r, &why), -1);
	assert_string_equal(why, "cannot read the CA file");
	oa_https_tls12(true);
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	assert_string_equal(P.tls_version, "TLSv1.2");
	oa_https_resp_free(&r);
	oa_https_tls12(false);
	peer_stop();
	SSL_CTX_free(sc);
	/* A trusted certificate that names another host. */
	sc = server_ctx(other_cert, other_key, false);
	peer_start(sc);
	P.answers[0] = CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), -1);
	assert_non_null(strstr(why, "mismatch"));
	assert_empty(&r);
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), -1);
	assert_empty(&r);
	peer_stop();
	SSL_CTX_free(sc);
}

/* The client certificate: presented once set, refused when it is not the
 * key's (the setting then unchanged), forgotten with NULL. */
static void test_tls_client_cert(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	SSL_CTX *sc = server_ctx(server_cert, server_key, true);
	peer_start(sc);
	for (int i = 0; i < ANSWERS_MAX; i++)
		P.answers[i] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), -1);
	assert_empty(&r);
	/* The chain: the leaf and one more (its own issuer here). */
	char chain[8192];
	snprintf(chain, sizeof(chain), "%s%s", client_pem, client_pem);
	assert_int_equal(oa_https_use_client(chain, client_key, &why), 0);
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	assert_true(P.client_cert);
	oa_https_resp_free(&r);
	assert_int_equal(oa_https_use_client(client_pem, server_key, &why), -1);
	assert_string_equal(why, "the client certificate is not the key's");
	assert_int_equal(oa_https_use_client("junk", client_key, &why), -1);
	int accepts = P.accepts;
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0); /* still kept */
	assert_int_equal(P.accepts, accepts);
	oa_https_resp_free(&r);
	assert_int_equal(oa_https_use_client(NULL, NULL, NULL), 0);
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), -1);
	assert_empty(&r);
	peer_stop();
	SSL_CTX_free(sc);
}

/* An HTTP proxy in a thread, one connection at a time: it reads the
 * CONNECT head, answers X.answer, and when that is 2xx relays bytes to
 * the peer (127.0.0.1:P.port) both ways until a side closes. */
static struct proxy {
	int lfd, port, connects;
	const char *answer;
	char req[2048]; /* the last CONNECT head */
	pthread_t th;
} X;

static void relay(int a, int b)
{
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	char buf[4096];
	while (poll(p, 2, 5000) > 0)
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t r = recv(p[i].fd, buf, sizeof(buf), 0);
			if (r <= 0 || send(p[1 - i].fd, buf, (size_t)r, MSG_NOSIGNAL) != r)
				return;
		}
}

static void *proxy_main(void *arg)
{
	(void)arg;
	for (int fd; (fd = accept(X.lfd, NULL, NULL)) >= 0; close(fd)) {
		size_t n = 0;
		X.req[0] = '\0';
		while (!strstr(X.req, "\r\n\r\n") && n < sizeof(X.req) - 1 &&
		       recv(fd, X.req + n, 1, 0) == 1)
			X.req[++n] = '\0';
		X.connects++;
		send(fd, X.answer, strlen(X.answer), MSG_NOSIGNAL);
		if (strncmp(X.answer, "HTTP/1.1 200", 12) != 0)
			continue;
		int up = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)P.port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (connect(up, (struct sockaddr *)&a, sizeof(a)) == 0)
			relay(fd, up);
		close(up);
	}
	return NULL;
}

/* https_proxy = head, the proxy's port, tail */
static void proxy_env(const char *head, const char *tail)
{
	char v[256];
	snprintf(v, sizeof(v), "%s%d%s", head, X.port, tail);
	setenv("https_proxy", v, 1);
}

/* https URLs go through https_proxy's CONNECT tunnel (the TLS inside it
 * still checked against the URL's host), with Basic credentials from its
 * user info; no_proxy exempts hosts; a refusing or broken proxy, or one
 * that is not http://, fails the request with a reason. */
static void test_proxy_tunnel(void **state)
{
	(void)state;
	struct oa_https_resp r;
	const char *why;
	char want[128];
	SSL_CTX *sc = server_ctx(server_cert, server_key, false);
	peer_start(sc);
	for (int i = 0; i < ANSWERS_MAX; i++)
		P.answers[i] = CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	memset(&X, 0, sizeof(X));
	X.lfd = listen_loopback(&X.port);
	X.answer = "HTTP/1.1 200 Connection established\r\n\r\n";
	pthread_create(&X.th, NULL, proxy_main, NULL);

	proxy_env("http://127.0.0.1:", "");
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
	assert_string_equal(r.body, "ok");
	oa_https_resp_free(&r);
	snprintf(want, sizeof(want), "CONNECT localhost:%d HTTP/1.1\r\nHost: localhost:%d\r\n\r\n",
		 P.port, P.port);
	assert_string_equal(X.req, want);
	assert_int_equal(X.connects, 1);
	/* Credentials, %-decoded, as Basic; no scheme means http://. */
	proxy_env("dev%40corp:p%3Ass@127.0.0.1:", "/");
	assert_int_equal(tls_get("127.0.0.1", ca_path, &r, &why), 0);
	oa_https_resp_free(&r);
	assert_non_null(strstr(X.req, "CONNECT 127.0.0.1:"));
	assert_non_null(strstr(X.req, "\r\nProxy-Authorization: Basic ZGV2QGNvcnA6cDpzcw==\r\n"));
	assert_int_equal(X.connects, 2);
	/* no_proxy: the host, a domain it is in, or "*"; not a bare suffix. */
	proxy_env("http://127.0.0.1:", "");
	const char *exempt[] = {"localhost", "other.example, .localhost", "*"};
	for (size_t i = 0; i < sizeof(exempt) / sizeof(*exempt); i++) {
		setenv("no_proxy", exempt[i], 1);
		assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
		oa_https_resp_free(&r);
		assert_int_equal(X.connects, 2);
	}
	setenv("no_proxy", "calhost", 1);
	assert_int_equal(tls_get("localhost", ca_path, &r, &why), 0);
	oa_https_resp_free(&r);
	assert_int_equal(X.connects, 3);
	unsetenv("no_proxy");
	/* A URL whose host or port holds a line break injects nothing into
	 * the CONNECT head: it is no URL, and the proxy hears nothing. */
	const char *inject[] = {"https://localhost\r\nX-Injected:1/t",
				"https://localhost:1\r\nX:a/t", "https://localhost:12a/t"};
	for (size_t i = 0; i < sizeof(inject) / sizeof(*inject); i++) {
		struct oa_https_req q = {
			.method = "GET", .url = inject[i], .timeout_s = 5, .ca_file = ca_path};
		assert_int_equal(oa_https_request(&q, &r, &why), -1);
		assert_string_equal(why, "not an http(s) URL");
		assert_int_equal(X.connects, 3);
	}
	/* The TLS inside the tunnel is the URL host's: a name the certificate
	 * does not have fails as it does without a proxy. */
	assert_int_equal(tls_get("127.0.0.2", ca_path, &r, &why), -1);
	assert_empty(&r);
	/* Refusals. */
	const char *answers[][2] = {
		{"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
		 "the proxy wants authentication (407)"},
		{"HTTP/1.1 403 Forbidden\r\n\r\n", "the proxy refused the tunnel"},
		{"SSH-2.0-OpenSSH\r\n\r\n", "the proxy's answer is not HTTP"},
		{"HTTP/1.1 502 Bad Gateway\r\n", "the proxy closed the connection"},
	};
	for (size_t i = 0; i < sizeof(answers) / sizeof(*answers); i++) {
		X.answer = answers[i][0];
		assert_int_equal(tls_get("localhost", ca_path, &r, &why), -1);
		assert_string_equal(why, answers[i][1]);
		assert_empty(&r);
	}
	const char *bad[] = {"socks5://127.0.0.1:", "https://127.0.0.1:", "http://[::1:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		proxy_env(bad[i], "");
		assert_int_equal(tls_get("localhost", ca_path, &r, &why), -1);
		assert_string_equal(why, "https_proxy is not an http:// proxy URL");
	}
	unsetenv("https_proxy");
	peer_stop();
	shutdown(X.lfd, SHUT_RDWR);
	close(X.lfd);
	pthread_join(X.th, NULL);
	SSL_CTX_free(sc);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_roots_and_host, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_tls_client_cert, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_tunnel, tls_setup, tls_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
