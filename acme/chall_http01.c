/* http-01 (RFC 8555 section 8.3): GET http://<identifier>:<port>/.well-known/
 * acme-challenge/<token> answers the key authorization (whitespace around
 * it ignored). Redirects are followed by hand, at most ACME_HTTP_REDIRECTS,
 * and only to http on the http-01 port or https on the tls-alpn-01 port
 * (80 and 443 unless configured), so a redirect cannot aim the validator
 * at another service; every hop's name goes through our resolver. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/order.h"

#define ACME_HTTP_REDIRECTS 10
#define ACME_HTTP_BODY_MAX 4096 /* a key authorization is about 90 bytes */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
/* One easy handle per validating thread, reset before each fetch: a new
 * handle per fetch also made a new internal multi handle with its wake-up
 * socketpair, and read the hosts file, on every validation. Connections
 * are never reused (CURLOPT_FORBID_REUSE): every fetch connects anew. */
static pthread_key_t curl_key;
static bool curl_key_ok;

static void curl_handle_free(void *c)
{
	curl_easy_cleanup(c);
}

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl_key_ok = pthread_key_create(&curl_key, curl_handle_free) == 0;
}

/* This thread's handle, reset; NULL out of memory. *own is set when the
 * caller must clean it up (no thread key). */
static CURL *curl_handle(bool *own)
{
	CURL *c = curl_key_ok ? pthread_getspecific(curl_key) : NULL;

	*own = false;
	if (c != NULL) {
		curl_easy_reset(c);
		return c;
	}
	if ((c = curl_easy_init()) == NULL)
		return NULL;
	if (!curl_key_ok || pthread_setspecific(curl_key, c) != 0)
		*own = true;
	return c;
}

struct body {
	char buf[ACME_HTTP_BODY_MAX + 1];
	size_t len;
	bool too_long;
};

static size_t body_write(char *p, size_t size, size_t n, void *cls)
{
	struct body *b = cls;
	size_t k = size * n;

	if (k > ACME_HTTP_BODY_MAX - b->len) {
		b->too_long = true;
		return 0; /* aborts the transfer */
	}
	memcpy(b->buf + b->len, p, k);
	b->len += k;
	return k;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Checks url's scheme and port and fills host (brackets stripped) and
 * port. -1 with *e for a URL we will not follow. */
static int hop_target(const char *url, const struct acme_chall_target *t, char *host,
		      size_t hostlen, long *port, struct acme_err *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *p = NULL;
	int rc = -1;

	if (u == NULL)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		acme_fail(e, ERR_ACME_CONNECTION, "a redirect to an unusable URL");
		goto out;
	}
	*port = strtol(p, NULL, 10);
	if (strcmp(scheme, "http") == 0	   ? *port != (long)t->http_port
	    : strcmp(scheme, "https") == 0 ? *port != (long)t->https_port
					   : true) {
		acme_fail(e, ERR_ACME_CONNECTION,
			  "a redirect to %.8s port %ld: only http on %u and https on %u", scheme,
			  *port, t->http_port, t->https_port);
		goto out;
	}
	if (h[0] == '[') {
		size_t n = strlen(h);
		snprintf(host, hostlen, "%.*s", (int)(n - 2), h + 1);
	} else {
		snprintf(host, hostlen, "%s", h);
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* One GET of url: 0 with *status and *b, or -1 with *e. *next gets the
 * redirect target (curl_free) for a 3xx. */
static int fetch(const struct acme_chall_target *t, const char *url, long *status, struct body *b,
		 char **next, struct acme_err *e)
{
	char host[ACME_IDENT_MAX], addr[INET6_ADDRSTRLEN], pin[ACME_IDENT_MAX + 80];
	struct acme_ident hop = {0};
	struct curl_slist *connect_to = NULL;
	bool own = false;
	unsigned char raw[16];
	long port = 0;
	char *loc = NULL, errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = NULL;
	CURLcode cc;
	int rc = -1;

	if (hop_target(url, t, host, sizeof host, &port, e) != 0)
		return -1;
	hop.type = inet_pton(AF_INET, host, raw) == 1 || inet_pton(AF_INET6, host, raw) == 1
			   ? ACME_ID_IP
			   : ACME_ID_DNS;
	snprintf(hop.value, sizeof hop.value, "%s", host);
	if (acme_resolve_addr(t->resolver, &hop, addr, sizeof addr, e) != 0)
		return -1;
	/* The address we resolved, for this host and port only (not
	 * CURLOPT_RESOLVE: its entries stay in the reused handle's DNS cache
	 * for good); CURLOPT_CONNECT_TO wants an IPv6 address in brackets. */
	if (strchr(addr, ':') != NULL)
		snprintf(pin, sizeof pin, "%s:%ld:[%s]:%ld", host, port, addr, port);
	else
		snprintf(pin, sizeof pin, "%s:%ld:%s:%ld", host, port, addr, port);
	if ((c = curl_handle(&own)) == NULL ||
	    (connect_to = curl_slist_append(NULL, pin)) == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto out;
	}
	b->len = 0;
	b->too_long = false;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)t->timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)t->timeout_s * 2);
	/* Section 8.3: the certificate of an https redirect is not checked. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "orchardd-acme-validator");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (b->too_long)
			acme_fail(e, ERR_ACME_INCORRECT_RESPONSE, "the response body is too long");
		else
			acme_fail(e,
				  cc == CURLE_SSL_CONNECT_ERROR ||
						  cc == CURLE_PEER_FAILED_VERIFICATION
					  ? ERR_ACME_TLS
					  : ERR_ACME_CONNECTION,
				  "fetching %.100s: %.100s", url,
				  errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*next = NULL;
	if (*status >= 300 && *status < 400 &&
	    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc != NULL &&
	    (*next = strdup(loc)) == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto out;
	}
	rc = 0;
out:
	if (c != NULL) /* the handle must not point at our stack or list */
		curl_easy_reset(c);
	curl_slist_free_all(connect_to);
	if (own)
		curl_easy_cleanup(c);
	return rc;
}

static int http01_validate(const struct acme_chall_target *t, struct acme_err *e)
{
	char *url = NULL, *next = NULL;
	struct body *b = calloc(1, sizeof *b);
	const char *v = t->ident->value;
	long status = 0;
	int rc = -1, hops;
	time_t start = time(NULL);

	pthread_once(&curl_once, curl_init);
	if (b == NULL || asprintf(&url, "http://%s%s%s:%u/.well-known/acme-challenge/%s",
				  strchr(v, ':') ? "[" : "", v, strchr(v, ':') ? "]" : "",
				  t->http_port, t->token) < 0) {
		url = NULL;
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto out;
	}
	for (hops = 0;; hops++) {
		/* All hops together get a few timeouts' worth, not ten each. */
		if (time(NULL) - start > 3 * (time_t)t->timeout_s) {
			acme_fail(e, ERR_ACME_CONNECTION, "the redirects took too long");
			goto out;
		}
		if (fetch(t, url, &status, b, &next, e) != 0)
			goto out;
		if (next == NULL)
			break;
		if (hops == ACME_HTTP_REDIRECTS) {
			acme_fail(e, ERR_ACME_CONNECTION, "more than %d redirects",
				  ACME_HTTP_REDIRECTS);
			goto out;
		}
		free(url);
		url = next;
		next = NULL;
	}
	if (status != 200) {
		acme_fail(e, ERR_ACME_UNAUTHORIZED, "%.100s answered HTTP %ld", url, status);
		goto out;
	}
	{
		const char *s = b->buf, *end = b->buf + b->len;
		while (s < end && is_space(*s))
			s++;
		while (end > s && is_space(end[-1]))
			end--;
		if ((size_t)(end - s) != strlen(t->key_authz) ||
		    memcmp(s, t->key_authz, (size_t)(end - s)) != 0) {
			acme_fail(e, ERR_ACME_INCORRECT_RESPONSE,
				  "%.100s did not answer the key authorization", url);
			goto out;
		}
	}
	rc = 0;
out:
	free(url);
	free(next);
	free(b);
	return rc;
}

const struct acme_chall_type acme_chall_http01 = {
	"http-01",
	ACME_ID_DNS | ACME_ID_IP,
	http01_validate,
	false,
};
