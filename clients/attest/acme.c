/* oa_http over the device-side HTTPS client (https.c, no libcurl), and
 * the small ACME client device-attest-01 needs (RFC 8555): an ES256
 * account key, JWS with jwk then kid, Replay-Nonce kept from every
 * answer, badNonce retried once. */
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clients/attest/attest.h"
#include "clients/attest/https.h"
#include "common/b64.h"

#define OA_BODY_MAX (1 << 20)

void oa_resp_free(struct oa_resp *r)
{
	oa_buf_free(&r->body);
	free(r->location);
	free(r->nonce);
	memset(r, 0, sizeof *r);
}

void oa_http_done(void)
{
	oa_https_done();
}

int oa_http_client(const struct oa_buf *pem, EVP_PKEY *key, char *err)
{
	const char *why = NULL;
	char *text = NULL;
	int rc;

	if (pem != NULL && key != NULL) {
		if ((text = malloc(pem->n + 1)) == NULL) {
			snprintf(err, OA_ERR_MAX, "out of memory");
			return -1;
		}
		memcpy(text, pem->b, pem->n);
		text[pem->n] = '\0';
	}
	rc = oa_https_use_client(text, text ? key : NULL, &why);
	free(text);
	if (rc != 0)
		snprintf(err, OA_ERR_MAX, "%s", why ? why : "cannot use the client certificate");
	return rc;
}

void oa_http_tls12(bool on)
{
	oa_https_tls12(on);
}

int oa_http(const char *cacert, const char *method, const char *url, const char *content_type,
	    const char *body, size_t len, struct oa_resp *r, char *err)
{
	char hdrs[160];
	struct oa_https_req q = {.method = method,
				 .url = url,
				 .headers = hdrs,
				 .body = body,
				 .len = len,
				 .timeout_s = 30,
				 .ca_file = cacert,
				 .max = OA_BODY_MAX};
	struct oa_https_resp x;
	const char *why = NULL;

	memset(r, 0, sizeof *r);
	if (body != NULL)
		snprintf(hdrs, sizeof hdrs, "Accept: */*\r\nContent-Type: %.100s\r\n",
			 content_type ? content_type : "application/octet-stream");
	else
		snprintf(hdrs, sizeof hdrs, "Accept: */*\r\n");
	if (oa_https_request(&q, &x, &why) != 0) {
		snprintf(err, OA_ERR_MAX, "%s %.180s: %s", method, url, why ? why : "failed");
		return -1;
	}
	r->status = x.status;
	r->body.b = (uint8_t *)x.body;
	r->body.n = x.len;
	r->location = x.location;
	r->nonce = x.nonce;
	r->retry_after = x.retry_after > 0 ? x.retry_after : 0;
	x.body = x.location = x.nonce = NULL;
	oa_https_resp_free(&x);
	return 0;
}

static int parse_body(struct oa_resp *r, json_t **out, char *err)
{
	json_error_t je;

	*out = r->body.n ? json_loadb((const char *)r->body.b, r->body.n, 0, &je) : NULL;
	if (*out == NULL) {
		snprintf(err, OA_ERR_MAX, "HTTP %ld without a JSON body", r->status);
		return -1;
	}
	return 0;
}

int oa_post_json(const char *cacert, const char *url, json_t *j, long *status, json_t **out,
		 char *err)
{
	char *text = json_dumps(j, JSON_COMPACT);
	struct oa_resp r;
	int rc;

	json_decref(j);
	*out = NULL;
	if (text == NULL) {
		snprintf(err, OA_ERR_MAX, "out of memory");
		return -1;
	}
	rc = oa_http(cacert, "POST", url, "application/json", text, strlen(text), &r, err);
	free(text);
	if (rc != 0)
		return -1;
	*status = r.status;
	rc = parse_body(&r, out, err);
	oa_resp_free(&r);
	return rc;
}

void oa_acme_free(struct oa_acme *a)
{
	free(a->new_nonce);
	free(a->new_account);
	free(a->new_order);
	free(a->renewal_info);
	free(a->kid);
	free(a->nonce);
	EVP_PKEY_CTX_free(a->sign);
	EVP_MD_free(a->sha256);
	EVP_PKEY_free(a->key);
	memset(a, 0, sizeof *a);
}

static char *b64u(const void *b, size_t n)
{
	return b64_encode(b, n, 1);
}

/* The account key's JWK, members in RFC 7638 order. */
static json_t *jwk(EVP_PKEY *k)
{
	uint8_t pt[65];
	size_t len = 0;
	char *x, *y;
	json_t *j;

	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &len) != 1 ||
	    len != 65)
		return NULL;
	x = b64u(pt + 1, 32);
	y = b64u(pt + 33, 32);
	j = x && y ? json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC", "x", x, "y", y)
		   : NULL;
	free(x);
	free(y);
	return j;
}

static int thumbprint(struct oa_acme *a)
{
	json_t *j = jwk(a->key);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	uint8_t md[32];
	char *t = NULL;

	if (text != NULL && EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL) == 1)
		t = b64u(md, 32);
	json_decref(j);
	free(text);
	if (t == NULL || strlen(t) >= sizeof a->thumbprint) {
		free(t);
		return -1;
	}
	snprintf(a->thumbprint, sizeof a->thumbprint, "%s", t);
	free(t);
	return 0;
}

/* ES256 over input: r || s, base64url. The digest, then a sign with the
 * account's kept context (made here the first time): what EVP_DigestSign
 * does, without a new context, and the fetches of the digest and the
 * signature method, for every request. NULL on failure. */
static char *es256(struct oa_acme *a, const char *input)
{
	unsigned char der[128], rs[64], dg[32];
	const unsigned char *p = der;
	size_t len = sizeof der;
	ECDSA_SIG *sig = NULL;
	char *out = NULL;

	if (a->sign == NULL) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, a->key, NULL);
		if (c == NULL || EVP_PKEY_sign_init(c) != 1) {
			EVP_PKEY_CTX_free(c);
			return NULL;
		}
		a->sign = c;
	}
	if (a->sha256 == NULL && (a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return NULL;
	if (EVP_Digest(input, strlen(input), dg, NULL, a->sha256, NULL) == 1 &&
	    EVP_PKEY_sign(a->sign, der, &len, dg, sizeof dg) == 1 &&
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) != NULL &&
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32)
		out = b64u(rs, 64);
	ECDSA_SIG_free(sig);
	return out;
}

static int fresh_nonce(struct oa_acme *a, char *err)
{
	struct oa_resp r;

	if (oa_http(a->cacert, "HEAD", a->new_nonce, NULL, NULL, 0, &r, err) != 0)
		return -1;
	free(a->nonce);
	a->nonce = r.nonce;
	r.nonce = NULL;
	oa_resp_free(&r);
	if (a->nonce == NULL) {
		snprintf(err, OA_ERR_MAX, "newNonce gave no Replay-Nonce");
		return -1;
	}
	return 0;
}

/* A member's key or value written as is: printable ASCII, no '"' or '\\'. */
static bool plain(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x20 || t[i] > 0x7e || t[i] == '"' || t[i] == '\\')
			return false;
	return true;
}

/* json_dumps(j, JSON_COMPACT), written directly when j is an object of
 * plain strings (a JWS protected header with kid, a challenge answer, a
 * CSR): jansson escapes character by character, about 20 instructions a
 * byte of a device-attest-01 attObj. The same text in the same member
 * order (insertion, as jansson keeps and dumps it); anything else goes to
 * jansson. NULL when out of memory. */
static char *dump(json_t *j)
{
	const char *k;
	json_t *v;
	size_t n = 3, at = 1;
	char *t;

	if (!json_is_object(j))
		return json_dumps(j, JSON_COMPACT);
	json_object_foreach (j, k, v) {
		size_t kl = strlen(k), vl = json_string_length(v);
		if (!json_is_string(v) || !plain(k, kl) || !plain(json_string_value(v), vl))
			return json_dumps(j, JSON_COMPACT);
		n += kl + vl + 6;
	}
	if ((t = malloc(n)) == NULL)
		return NULL;
	t[0] = '{';
	json_object_foreach (j, k, v) {
		size_t kl = strlen(k), vl = json_string_length(v);
		if (at > 1)
			t[at++] = ',';
		t[at++] = '"';
		memcpy(t + at, k, kl);
		at += kl;
		memcpy(t + at, "\":\"", 3);
		at += 3;
		memcpy(t + at, json_string_value(v), vl);
		at += vl;
		t[at++] = '"';
	}
	t[at++] = '}';
	t[at] = '\0';
	return t;
}

/* The flattened JWS of payload_text for url, signed with the next nonce.
 * Its three members are base64url, which JSON needs no escape for: the
 * body is written as text, not built and dumped by jansson (which went
 * over a device-attest-01 answer's attObj character by character). */
static char *jws(struct oa_acme *a, const char *url, const char *payload_text)
{
	json_t *prot = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", a->nonce, "url", url);
	char *ptext = NULL, *p64 = NULL, *pl64 = NULL, *input = NULL, *sig = NULL, *out = NULL;
	size_t np, npl, n;

	if (prot == NULL)
		return NULL;
	if (a->kid != NULL)
		json_object_set_new(prot, "kid", json_string(a->kid));
	else
		json_object_set_new(prot, "jwk", jwk(a->key));
	if ((ptext = dump(prot)) == NULL || (p64 = b64u(ptext, strlen(ptext))) == NULL ||
	    (pl64 = b64u(payload_text, strlen(payload_text))) == NULL)
		goto out;
	np = strlen(p64);
	npl = strlen(pl64);
	if ((input = malloc(np + npl + 2)) == NULL)
		goto out;
	memcpy(input, p64, np);
	input[np] = '.';
	memcpy(input + np + 1, pl64, npl + 1);
	if ((sig = es256(a, input)) == NULL)
		goto out;
	n = np + npl + strlen(sig) +
	    sizeof "{\"protected\":\"\",\"payload\":\"\",\"signature\":\"\"}";
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
			 p64, pl64, sig);
out:
	json_decref(prot);
	free(ptext);
	free(p64);
	free(pl64);
	free(input);
	free(sig);
	return out;
}

int oa_acme_post(struct oa_acme *a, const char *url, json_t *payload, struct oa_resp *r, char *err)
{
	char *ptext = payload ? dump(payload) : strdup("");
	int rc = -1;

	json_decref(payload);
	if (ptext == NULL) {
		snprintf(err, OA_ERR_MAX, "out of memory");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		char *body;
		if (a->nonce == NULL && fresh_nonce(a, err) != 0)
			break;
		if ((body = jws(a, url, ptext)) == NULL) {
			snprintf(err, OA_ERR_MAX, "cannot sign the request");
			break;
		}
		free(a->nonce);
		a->nonce = NULL;
		rc = oa_http(a->cacert, "POST", url, "application/jose+json", body, strlen(body), r,
			     err);
		free(body);
		if (rc != 0)
			break;
		a->nonce = r->nonce;
		r->nonce = NULL;
		if (r->status == 400 && r->body.b != NULL &&
		    strstr((const char *)r->body.b, "badNonce") != NULL && attempt == 0) {
			oa_resp_free(r);
			rc = -1;
			continue;
		}
		break;
	}
	free(ptext);
	return rc;
}

int oa_acme_post_json(struct oa_acme *a, const char *url, json_t *payload, long *status,
		      json_t **out, char **location, char *err)
{
	struct oa_resp r;
	int rc;

	*out = NULL;
	if (oa_acme_post(a, url, payload, &r, err) != 0)
		return -1;
	*status = r.status;
	rc = parse_body(&r, out, err);
	if (location != NULL) {
		*location = r.location;
		r.location = NULL;
	}
	oa_resp_free(&r);
	return rc;
}

/* The account key at key_path (PEM), or a new P-256 key saved there
 * (0600); key_path NULL: a new key kept in memory only. */
static EVP_PKEY *account_key(const char *key_path, char *err)
{
	EVP_PKEY *k = NULL;
	FILE *f;
	int fd;

	if (key_path != NULL && (f = fopen(key_path, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k == NULL || !EVP_PKEY_is_a(k, "EC") || EVP_PKEY_get_bits(k) != 256) {
			EVP_PKEY_free(k);
			snprintf(err, OA_ERR_MAX, "%.200s: no P-256 private key", key_path);
			return NULL;
		}
		return k;
	}
	if ((k = EVP_EC_gen("P-256")) == NULL) {
		snprintf(err, OA_ERR_MAX, "cannot make an account key");
		return NULL;
	}
	if (key_path == NULL)
		return k;
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0) {
		if (f == NULL && fd >= 0)
			close(fd);
		snprintf(err, OA_ERR_MAX, "cannot write %.200s", key_path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int oa_acme_account(struct oa_acme *a, const char *cacert, const char *directory_url, char *err)
{
	return oa_acme_account_at(a, cacert, directory_url, NULL, err);
}

int oa_acme_account_at(struct oa_acme *a, const char *cacert, const char *directory_url,
		       const char *key_path, char *err)
{
	struct oa_resp r;
	json_t *dir = NULL, *acct = NULL;
	char *loc = NULL;
	long status = 0;

	memset(a, 0, sizeof *a);
	a->cacert = cacert;
	if (oa_http(cacert, "GET", directory_url, NULL, NULL, 0, &r, err) != 0)
		return -1;
	if (parse_body(&r, &dir, err) != 0) {
		oa_resp_free(&r);
		return -1;
	}
	oa_resp_free(&r);
	a->new_nonce = strdup(json_string_value(json_object_get(dir, "newNonce")) ?: "");
	a->new_account = strdup(json_string_value(json_object_get(dir, "newAccount")) ?: "");
	a->new_order = strdup(json_string_value(json_object_get(dir, "newOrder")) ?: "");
	a->renewal_info = strdup(json_string_value(json_object_get(dir, "renewalInfo")) ?: "");
	json_decref(dir);
	if ((a->key = account_key(key_path, err)) == NULL)
		return -1;
	if (thumbprint(a) != 0) {
		snprintf(err, OA_ERR_MAX, "cannot make an account key");
		return -1;
	}
	if (oa_acme_post_json(a, a->new_account, json_pack("{s:b}", "termsOfServiceAgreed", 1),
			      &status, &acct, &loc, err) != 0)
		return -1;
	json_decref(acct);
	/* 201: a new account; 200: the key's existing one (RFC 8555 7.3.1). */
	if ((status != 201 && status != 200) || loc == NULL) {
		snprintf(err, OA_ERR_MAX, "newAccount: HTTP %ld", status);
		free(loc);
		return -1;
	}
	a->kid = loc;
	return 0;
}
