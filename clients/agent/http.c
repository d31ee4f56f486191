/* http.c: the agent's HTTPS requests (libcurl, the configured ca_file) and
 * its SAS tokens. Every transfer can be interrupted: a SIGTERM or an app
 * that ended aborts a long poll at once (agent_interrupt). */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "clients/agent/agent.h"
#include "common/b64.h"
#include "common/log.h"

volatile sig_atomic_t agent_stopping;
int (*agent_interrupt)(void);

struct sink {
	char *p;
	size_t len;
	size_t max;
};

static size_t to_mem(char *d, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = sz * n;
	if (s->len + add > s->max)
		return 0;
	char *np = realloc(s->p, s->len + add + 1);
	if (!np)
		return 0;
	memcpy(np + s->len, d, add);
	s->p = np;
	s->len += add;
	s->p[s->len] = '\0';
	return add;
}

static int progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg, (void)a, (void)b, (void)c, (void)d;
	return agent_stopping || (agent_interrupt && agent_interrupt());
}

static size_t on_header(char *d, size_t sz, size_t n, void *arg)
{
	struct http_reply *r = arg;
	size_t len = sz * n;
	if (len > 12 && !strncasecmp(d, "Retry-After:", 12))
		r->retry_after = strtol(d + 12, NULL, 10);
	return len;
}

static CURL *easy(const struct agent_config *c, const char *url, long timeout_s)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	return h;
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
	r->retry_after = -1;
	struct sink s = {.max = 1 << 20};
	struct curl_slist *hdrs = NULL;
	char ah[4096];
	CURL *h = easy(c, url, timeout_s);
	if (!h)
		return -1;
	if (auth) {
		snprintf(ah, sizeof(ah), "Authorization: %s", auth);
		hdrs = curl_slist_append(hdrs, ah);
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_mem);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		r->body = s.p;
		r->len = s.len;
	} else {
		free(s.p);
		if (cc != CURLE_ABORTED_BY_CALLBACK)
			log_kv(LOG_WARN, "request failed", "method", method, "url", url, "error",
			       curl_easy_strerror(cc), NULL);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return cc == CURLE_OK ? 0 : -1;
}

struct dl {
	CURL *h;
	FILE *f;
	uint64_t have;
	bool checked;
};

/* Writes the module's bytes; a 200 to a Range request is the whole module
 * again, so what the file held is dropped first. Nothing but 2xx lands. */
static size_t to_file(char *d, size_t sz, size_t n, void *arg)
{
	struct dl *x = arg;
	if (!x->checked) {
		long st = 0;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
		if (st != 200 && st != 206)
			return sz * n; /* an error body: read, not kept */
		if (st == 200 && x->have &&
		    (fflush(x->f) != 0 || ftruncate(fileno(x->f), 0) < 0 ||
		     fseek(x->f, 0, SEEK_SET) < 0))
			return 0;
		x->checked = true;
	}
	return fwrite(d, sz, n, x->f) * sz;
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
		return -1;
	}
	if (!f)
		return -1;
	struct curl_slist *hdrs = NULL;
	char ah[4096], range[64];
	CURL *h = easy(c, url, 600);
	if (!h) {
		fclose(f);
		return -1;
	}
	snprintf(ah, sizeof(ah), "Authorization: %s", auth);
	hdrs = curl_slist_append(hdrs, ah);
	if (have) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)have);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	struct dl x = {.h = h, .f = f, .have = have};
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_file);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 0L);
	/* A non-2xx answer must not land in the file: write nothing then. */
	long status = -1;
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else if (cc != CURLE_ABORTED_BY_CALLBACK)
		log_kv(LOG_WARN, "download failed", "url", url, "error", curl_easy_strerror(cc),
		       NULL);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (fclose(f) != 0)
		status = -1;
	return status;
}

char *sas_sign(const char *sr, long ttl, const char *skn, sas_mac_fn mac_fn, void *ctx)
{
	long se = (long)time(NULL) + ttl;
	char msg[1024], out[2048];
	/* As Azure's SDKs do: sr URL-encoded, and the HMAC over sr as sent. */
	CURL *h = curl_easy_init();
	char *esr = h ? curl_easy_escape(h, sr, 0) : NULL;
	char *sig = NULL, *esig = NULL, *ret = NULL;
	int n = esr ? snprintf(msg, sizeof(msg), "%s\n%ld", esr, se) : -1;
	uint8_t mac[32];
	if (n > 0 && (size_t)n < sizeof(msg) &&
	    mac_fn(ctx, (const uint8_t *)msg, (size_t)n, mac) == 0)
		sig = b64_encode(mac, 32, 0);
	esig = sig ? curl_easy_escape(h, sig, 0) : NULL;
	if (esig && esr) {
		snprintf(out, sizeof(out), "SharedAccessSignature sr=%s&sig=%s&se=%ld%s%s", esr,
			 esig, se, skn ? "&skn=" : "", skn ? skn : "");
		ret = strdup(out);
	}
	curl_free(esig);
	curl_free(esr);
	curl_easy_cleanup(h);
	free(sig);
	return ret;
}

struct soft_key {
	const uint8_t *key;
	size_t len;
};

static int soft_mac(void *ctx, const uint8_t *msg, size_t n, uint8_t mac[32])
{
	const struct soft_key *k = ctx;
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
