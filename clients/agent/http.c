/* http.c: the agent's requests over the shared device-side client
 * (clients/attest/https.c, which libattestclient's ACME calls use too):
 * JSON exchanges, resumable downloads, SAS tokens, and the interrupt that
 * aborts a long poll at once (a SIGTERM, or an app that ended). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "clients/attest/https.h"
#include "common/b64.h"
#include "common/log.h"

volatile sig_atomic_t agent_stopping;
int (*agent_interrupt)(void);

static int interrupted(void)
{
	return agent_stopping || (agent_interrupt && agent_interrupt());
}

/* One request on the shared client; a transport failure is logged unless
 * it was an interrupt (which agent_interrupt reports once: not asked
 * again). */
static int request(const struct agent_config *c, struct oa_https_req *q, struct oa_https_resp *r)
{
	const char *why = NULL;
	oa_https_interrupt = interrupted;
	q->ca_file = c->ca_file;
	int rc = oa_https_request(q, r, &why);
	if (rc < 0 && (!why || strcmp(why, OA_HTTPS_INTERRUPTED) != 0))
		log_kv(LOG_WARN, "request failed", "method", q->method, "url", q->url, "error",
		       why ? why : "?", NULL);
	return rc;
}

void http_reply_free(struct http_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int http_json(const struct agent_config *c, const char *method, const char *url, const char *auth,
	      const char *body, long timeout_s, struct http_reply *r)
{
	memset(r, 0, sizeof(*r));
	char *hdrs = NULL;
	bool a = auth && *auth; /* "": mutual TLS, no Authorization */
	if (asprintf(&hdrs, "User-Agent: orchard-agent/%s\r\n%s%s%sAccept: application/json\r\n%s",
		     AGENT_VERSION, a ? "Authorization: " : "", a ? auth : "", a ? "\r\n" : "",
		     body ? "Content-Type: application/json\r\n" : "") < 0)
		return -1;
	struct oa_https_req q = {.method = method,
				 .url = url,
				 .headers = hdrs,
				 .body = body,
				 .len = body ? strlen(body) : 0,
				 .timeout_s = timeout_s};
	struct oa_https_resp x;
	int rc = request(c, &q, &x);
	free(hdrs);
	if (rc == 0) {
		r->status = x.status;
		r->retry_after = x.retry_after;
		r->body = x.body;
		r->len = x.len;
		x.body = NULL;
		oa_https_resp_free(&x);
	}
	return rc;
}

struct dl {
	FILE *f;
	uint64_t have, max;
	bool checked, keep;
	bool werr; /* a local write failed (disk full, file size limit) */
};

/* Writes the module's bytes; a 200 to a Range request is the whole module
 * again, so what the file held is dropped first; a 206 must start where
 * the file ends. Nothing but 2xx lands. */
static int to_file(void *arg, const struct oa_https_resp *r, const char *d, size_t n)
{
	struct dl *x = arg;
	if (!x->checked) {
		x->checked = true;
		x->keep = r->status == 200 || r->status == 206;
		if (r->status == 206) {
			unsigned long long from;
			char *end;
			const char *cr = r->content_range;
			if (!cr || strncmp(cr, "bytes ", 6) != 0)
				return -1;
			from = strtoull(cr + 6, &end, 10);
			if (end == cr + 6 || *end != '-' || from != x->have)
				return -1;
		}
		if (r->status == 200 && x->have) {
			if (fflush(x->f) != 0 || ftruncate(fileno(x->f), 0) < 0 ||
			    fseek(x->f, 0, SEEK_SET) < 0) {
				x->werr = true;
				return -1;
			}
			x->have = 0;
		}
	}
	if (!x->keep)
		return 0; /* an error body: read, not kept */
	if (x->have + n > x->max)
		return -1;
	x->have += n;
	if (fwrite(d, 1, n, x->f) != n) {
		x->werr = true;
		return -1;
	}
	return 0;
}

long http_download(const struct agent_config *c, const char *url, const char *auth,
		   const char *path, uint64_t max)
{
	struct stat st;
	uint64_t have = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (have > max)
		return -1;
	FILE *f = fopen(path, "r+b");
	if (!f)
		f = fopen(path, "w+b");
	if (f && fseek(f, 0, SEEK_END) < 0) {
		fclose(f);
		return -2;
	}
	if (!f)
		return -2;
	char *hdrs = NULL, range[64] = "";
	if (have)
		snprintf(range, sizeof(range), "Range: bytes=%llu-\r\n", (unsigned long long)have);
	bool a = auth && *auth; /* "": mutual TLS, no Authorization */
	if (asprintf(&hdrs, "User-Agent: orchard-agent/%s\r\n%s%s%s%s", AGENT_VERSION,
		     a ? "Authorization: " : "", a ? auth : "", a ? "\r\n" : "", range) < 0) {
		fclose(f);
		return -1;
	}
	struct dl x = {.f = f, .have = have, .max = max};
	struct oa_https_req q = {.method = "GET",
				 .url = url,
				 .headers = hdrs,
				 .timeout_s = 600,
				 .sink = to_file,
				 .arg = &x};
	struct oa_https_resp r;
	long status = request(c, &q, &r) == 0 ? r.status : -1;
	if (status >= 0)
		oa_https_resp_free(&r);
	free(hdrs);
	if (fclose(f) != 0 || x.werr)
		status = -2; /* what was written stays: the next attempt resumes */
	return status;
}

/* Percent-encodes all but RFC 3986's unreserved characters (as libcurl's
 * curl_easy_escape, which Azure's SDKs match). malloc'd. */
static char *url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = malloc(strlen(s) * 3 + 1), *p = o;
	if (!o)
		return NULL;
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		    (*q >= '0' && *q <= '9') || *q == '-' || *q == '.' || *q == '_' || *q == '~') {
			*p++ = (char)*q;
		} else {
			*p++ = '%';
			*p++ = hex[*q >> 4];
			*p++ = hex[*q & 15];
		}
	}
	*p = '\0';
	return o;
}

char *sas_sign(const char *sr, long ttl, const char *skn, sas_mac_fn mac_fn, void *mac_ctx)
{
	long se = (long)time(NULL) + ttl;
	char msg[1024], out[2048];
	/* As Azure's SDKs do: sr URL-encoded, and the HMAC over sr as sent. */
	char *esr = url_escape(sr);
	char *sig = NULL, *esig = NULL, *ret = NULL;
	int n = esr ? snprintf(msg, sizeof(msg), "%s\n%ld", esr, se) : -1;
	uint8_t mac[32];
	if (n > 0 && (size_t)n < sizeof(msg) &&
	    mac_fn(mac_ctx, (const uint8_t *)msg, (size_t)n, mac) == 0)
		sig = b64_encode(mac, 32, 0);
	esig = sig ? url_escape(sig) : NULL;
	if (esig && esr) {
		snprintf(out, sizeof(out), "SharedAccessSignature sr=%s&sig=%s&se=%ld%s%s", esr,
			 esig, se, skn ? "&skn=" : "", skn ? skn : "");
		ret = strdup(out);
	}
	free(esig);
	free(esr);
	free(sig);
	return ret;
}

struct soft_key {
	const uint8_t *key;
	size_t len;
};

static int soft_mac(void *key, const uint8_t *msg, size_t n, uint8_t mac[32])
{
	const struct soft_key *k = key;
	unsigned int mlen = 0;
	return HMAC(EVP_sha256(), k->key, (int)k->len, msg, n, mac, &mlen) && mlen == 32 ? 0 : -1;
}

char *sas_token(const char *sr, const char *key_b64, long ttl, const char *skn)
{
	size_t klen;
	uint8_t *key = b64_decode(key_b64, strlen(key_b64), 0, &klen);
	if (!key)
		return NULL;
	struct soft_key k = {key, klen};
	char *ret = sas_sign(sr, ttl, skn, soft_mac, &k);
	OPENSSL_cleanse(key, klen);
	free(key);
	return ret;
}

int http_use_client(const char *chain_pem, EVP_PKEY *key)
{
	return oa_https_use_client(chain_pem, key, NULL);
}

void http_cleanup(void)
{
	oa_https_done();
}
