/* cwasm.c: reads and writes the .cwasm container (cwasm.h). The digest is
 * integrity, not authenticity: signing compiled forms is the depot's part. */
#include "clients/wasm/cwasm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "clients/wasm/aot_abi.h"
#include "wabt/config.h" /* WABT_VERSION_STRING: the wabt this build links */
#include "common/hex.h"
#include "common/target.h"

#define HEADER_MAX 4096

const char *cwasm_wabt_version(void)
{
	return WABT_VERSION_STRING;
}

int cwasm_is(const uint8_t *bytes, size_t len)
{
	return len >= sizeof(CWASM_MAGIC) - 1 &&
	       memcmp(bytes, CWASM_MAGIC, sizeof(CWASM_MAGIC) - 1) == 0;
}

static int sha256(const uint8_t *bytes, size_t len, uint8_t out[CWASM_DIGEST_LEN])
{
	unsigned n = 0;
	return EVP_Digest(bytes, len, out, &n, EVP_sha256(), NULL) == 1 && n == CWASM_DIGEST_LEN
		       ? 0
		       : -1;
}

int cwasm_sha256_hex(const uint8_t *bytes, size_t len, char *out)
{
	uint8_t d[CWASM_DIGEST_LEN];
	if (sha256(bytes, len, d) < 0)
		return -1;
	hex_encode(d, sizeof(d), out);
	return 0;
}

/* Copies the value of "key value\n" at *p (bounded by end) into out when the
 * key matches, advancing *p past the line. */
static int header_field(const char **p, const char *end, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl || (size_t)(nl - *p) < klen + 1 || memcmp(*p, key, klen) != 0 || (*p)[klen] != ' ')
		return -1;
	const char *v = *p + klen + 1;
	size_t vlen = (size_t)(nl - v);
	if (vlen >= cap || memchr(v, '\0', vlen))
		return -1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	*p = nl + 1;
	return 0;
}

static int num_field(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

int cwasm_open(const uint8_t *bytes, size_t len, cwasm_info *info, char *err, size_t errlen)
{
	uint8_t digest[CWASM_DIGEST_LEN];
	char abi[16], plen[32];
	unsigned long long n = 0;

	memset(info, 0, sizeof(*info));
	if (!cwasm_is(bytes, len) || len < sizeof(CWASM_MAGIC) - 1 + CWASM_DIGEST_LEN) {
		snprintf(err, errlen, "not a compiled module (.cwasm)");
		return -1;
	}
	size_t body = len - CWASM_DIGEST_LEN;
	if (sha256(bytes, body, digest) < 0 ||
	    memcmp(digest, bytes + body, CWASM_DIGEST_LEN) != 0) {
		snprintf(err, errlen, "compiled module: digest mismatch (truncated or altered)");
		return -1;
	}
	const char *p = (const char *)bytes + sizeof(CWASM_MAGIC) - 1;
	const char *end = (const char *)bytes + (body < HEADER_MAX ? body : HEADER_MAX);
	if (header_field(&p, end, "module-sha256", info->module_sha256,
			 sizeof(info->module_sha256)) < 0 ||
	    header_field(&p, end, "wabt", info->wabt, sizeof(info->wabt)) < 0 ||
	    header_field(&p, end, "abi", abi, sizeof(abi)) < 0 ||
	    header_field(&p, end, "target", info->target, sizeof(info->target)) < 0 ||
	    header_field(&p, end, "cc", info->cc, sizeof(info->cc)) < 0 ||
	    header_field(&p, end, "flags", info->flags, sizeof(info->flags)) < 0 ||
	    header_field(&p, end, "payload", plen, sizeof(plen)) < 0 || p >= end || *p != '\n' ||
	    num_field(abi, 1u << 30, &n) < 0) {
		snprintf(err, errlen, "compiled module: bad header");
		return -1;
	}
	info->abi = (unsigned)n;
	p++;
	size_t off = (size_t)((const uint8_t *)p - bytes);
	if (num_field(plen, body - off, &n) < 0 || n != body - off) {
		snprintf(err, errlen, "compiled module: bad payload length");
		return -1;
	}
	info->payload = bytes + off;
	info->payload_len = (size_t)n;
	if (info->abi != AOT_ABI_VERSION || strcmp(info->wabt, cwasm_wabt_version()) != 0 ||
	    strcmp(info->target, target_host()) != 0) {
		snprintf(
			err, errlen,
			"compiled module: made for abi %u, wabt %s, %s; this orchard-wasm is abi %u, "
			"wabt %s, %s: compile it again",
			info->abi, info->wabt, info->target, AOT_ABI_VERSION, cwasm_wabt_version(),
			target_host());
		return -1;
	}
	return 0;
}

int cwasm_build(const cwasm_info *info, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	char head[HEADER_MAX];
	int hn = snprintf(head, sizeof(head),
			  CWASM_MAGIC "module-sha256 %s\nwabt %s\nabi %u\ntarget %s\ncc %s\n"
				      "flags %s\npayload %zu\n\n",
			  info->module_sha256, info->wabt, info->abi, info->target, info->cc,
			  info->flags, info->payload_len);
	if (hn < 0 || (size_t)hn >= sizeof(head)) {
		snprintf(err, errlen, "compiled module header too long");
		return -1;
	}
	size_t total = (size_t)hn + info->payload_len + CWASM_DIGEST_LEN;
	uint8_t *buf = malloc(total);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(buf, head, (size_t)hn);
	memcpy(buf + hn, info->payload, info->payload_len);
	if (sha256(buf, total - CWASM_DIGEST_LEN, buf + total - CWASM_DIGEST_LEN) < 0) {
		free(buf);
		snprintf(err, errlen, "SHA-256 failed");
		return -1;
	}
	*out = buf;
	*outlen = total;
	return 0;
}
