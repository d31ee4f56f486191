/* http-01 (RFC 8555 section 8.3): GET http://<identifier>:<port>/.well-known/
 * acme-challenge/<token> answers the key authorization (whitespace around
 * it ignored). Redirects are followed by hand, at most ACME_HTTP_REDIRECTS,
 * and only to http on the http-01 port or https on the tls-alpn-01 port
 * (80 and 443 unless configured), so a redirect cannot aim the validator
 * at another service; every hop's name goes through our resolver. Each
 * hop is one GET on a new connection (acme/http_get.c); libcurl only
 * parses the URLs, and resolves a relative Location. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/http_get.h"
#include "acme/order.h"

#define ACME_HTTP_REDIRECTS 10

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One hop of the fetch: where the URL in u points. */
struct hop {
	char host[ACME_IDENT_MAX]; /* brackets stripped */
	unsigned port;
	bool tls;
	char *target; /* the path and query (free) */
};

/* Checks the scheme and port of the URL that u holds and fills *h. -1
 * with *e for a URL we will not follow. libcurl's URL API parses it (no
 * network): it also resolved a relative Location against the URL before. */
static int hop_target(CURLU *u, const struct acme_chall_target *t, struct hop *h,
		      struct acme_err *e)
{
	char *scheme = NULL, *host = NULL, *p = NULL, *path = NULL, *query = NULL;
	CURLUcode qc;
	long port;
	int rc = -1;

	h->target = NULL;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    ((qc = curl_url_get(u, CURLUPART_QUERY, &query, 0)) != CURLUE_OK &&
	     qc != CURLUE_NO_QUERY)) {
		acme_fail(e, ERR_ACME_CONNECTION, "a redirect to an unusable URL");
		goto out;
	}
	port = strtol(p, NULL, 10);
	if (strcmp(scheme, "http") == 0	   ? port != (long)t->http_port
	    : strcmp(scheme, "https") == 0 ? port != (long)t->https_port
					   : true) {
		acme_fail(e, ERR_ACME_CONNECTION,
			  "a redirect to %.8s port %ld: only http on %u and https on %u", scheme,
			  port, t->http_port, t->https_port);
		goto out;
	}
	h->port = (unsigned)port;
	h->tls = scheme[4] == 's';
	if (host[0] == '[')
		snprintf(h->host, sizeof h->host, "%.*s", (int)(strlen(host) - 2), host + 1);
	else
		snprintf(h->host, sizeof h->host, "%s", host);
	if (asprintf(&h->target, "%s%s%s", path, query ? "?" : "", query ? query : "") < 0) {
		h->target = NULL;
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto out;
	}
	/* The request line takes no space or control character. */
	for (const char *c = h->target; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			acme_fail(e, ERR_ACME_CONNECTION, "a redirect to an unusable URL");
			goto out;
		}
	rc = 0;
out:
	if (rc != 0) {
		free(h->target);
		h->target = NULL;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(p);
	curl_free(path);
	curl_free(query);
	return rc;
}

/* One GET of the URL in u: 0 with *r, or -1 with *e. */
static int fetch(const struct acme_chall_target *t, CURLU *u, struct acme_http_resp *r,
		 struct acme_err *e)
{
	char addr[INET6_ADDRSTRLEN];
	struct acme_ident id = {0};
	unsigned char raw[16];
	struct hop h;
	int rc;

	if (hop_target(u, t, &h, e) != 0)
		return -1;
	id.type = inet_pton(AF_INET, h.host, raw) == 1 || inet_pton(AF_INET6, h.host, raw) == 1
			  ? ACME_ID_IP
			  : ACME_ID_DNS;
	snprintf(id.value, sizeof id.value, "%s", h.host);
	rc = acme_resolve_addr(t->resolver, &id, addr, sizeof addr, e);
	if (rc == 0) {
		struct acme_http_req q = {.addr = addr,
					  .port = h.port,
					  .tls = h.tls,
					  .host = h.host,
					  .target = h.target,
					  .timeout_s = t->timeout_s};
		rc = acme_http_get(&q, r, e);
	}
	free(h.target);
	return rc;
}

static int http01_validate(const struct acme_chall_target *t, struct acme_err *e)
{
	char *url = NULL;
	struct acme_http_resp *r = malloc(sizeof *r);
	const char *v = t->ident->value;
	CURLU *u = curl_url();
	int rc = -1, hops;
	time_t start = time(NULL);

	if (r == NULL || u == NULL ||
	    asprintf(&url, "http://%s%s%s:%u/.well-known/acme-challenge/%s",
		     strchr(v, ':') ? "[" : "", v, strchr(v, ':') ? "]" : "", t->http_port,
		     t->token) < 0) {
		url = NULL;
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "cannot parse %.100s", url);
		goto out;
	}
	for (hops = 0;; hops++) {
		/* All hops together get a few timeouts' worth, not ten each. */
		if (time(NULL) - start > 3 * (time_t)t->timeout_s) {
			acme_fail(e, ERR_ACME_CONNECTION, "the redirects took too long");
			goto out;
		}
		if (fetch(t, u, r, e) != 0)
			goto out;
		if (r->status < 300 || r->status >= 400 || r->location == NULL)
			break;
		if (hops == ACME_HTTP_REDIRECTS) {
			acme_fail(e, ERR_ACME_CONNECTION, "more than %d redirects",
				  ACME_HTTP_REDIRECTS);
			goto out;
		}
		/* A relative Location resolves against the URL u holds. */
		if (curl_url_set(u, CURLUPART_URL, r->location, 0) != CURLUE_OK) {
			acme_fail(e, ERR_ACME_CONNECTION, "a redirect to an unusable URL");
			goto out;
		}
	}
	if (r->status != 200) {
		char *at = NULL;
		curl_url_get(u, CURLUPART_URL, &at, 0);
		acme_fail(e, ERR_ACME_UNAUTHORIZED, "%.100s answered HTTP %d", at ? at : url,
			  r->status);
		curl_free(at);
		goto out;
	}
	{
		const char *s = r->body, *end = r->body + r->body_len;
		while (s < end && is_space(*s))
			s++;
		while (end > s && is_space(end[-1]))
			end--;
		if ((size_t)(end - s) != strlen(t->key_authz) ||
		    memcmp(s, t->key_authz, (size_t)(end - s)) != 0) {
			char *at = NULL;
			curl_url_get(u, CURLUPART_URL, &at, 0);
			acme_fail(e, ERR_ACME_INCORRECT_RESPONSE,
				  "%.100s did not answer the key authorization", at ? at : url);
			curl_free(at);
			goto out;
		}
	}
	rc = 0;
out:
	curl_url_cleanup(u);
	free(url);
	free(r);
	return rc;
}

const struct acme_chall_type acme_chall_http01 = {
	"http-01",
	ACME_ID_DNS | ACME_ID_IP,
	http01_validate,
	false,
};
