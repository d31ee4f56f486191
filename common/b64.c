/* Base64 and base64url, strict on decode: every byte string has exactly
 * one accepted encoding, so a signature or key cannot be smuggled twice. */
#include "common/b64.h"

#include <stdlib.h>

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64_encoded_len(size_t n, int url)
{
	return url ? n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0) : (n + 2) / 3 * 4;
}

char *b64_encode(const uint8_t *in, size_t n, int url)
{
	const char *a = url ? url_alpha : std_alpha;
	char *out = malloc(b64_encoded_len(n, url) + 1), *p = out;
	size_t i = 0;

	if (out == NULL)
		return NULL;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = a[v >> 18];
		*p++ = a[v >> 12 & 63];
		*p++ = a[v >> 6 & 63];
		*p++ = a[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*p++ = a[v >> 18];
		*p++ = a[v >> 12 & 63];
		if (!url) {
			*p++ = '=';
			*p++ = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*p++ = a[v >> 18];
		*p++ = a[v >> 12 & 63];
		*p++ = a[v >> 6 & 63];
		if (!url)
			*p++ = '=';
	}
	*p = '\0';
	return out;
}

static int b64_value(char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

size_t b64_decoded_max(size_t inlen)
{
	return inlen / 4 * 3 + 3;
}

int b64_decode_into(const char *in, size_t inlen, int url, uint8_t *out, size_t *outlen)
{
	size_t pad = 0, rem;
	uint8_t *p = out;

	if (!url) {
		if (inlen % 4 != 0)
			return -1;
		while (pad < 2 && inlen > pad && in[inlen - 1 - pad] == '=')
			pad++;
		inlen -= pad;
	}
	rem = inlen % 4;
	if (rem == 1 || (!url && pad != (rem ? 4 - rem : 0)))
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		size_t take = inlen - i < 4 ? inlen - i : 4;
		uint32_t v = 0;
		for (size_t k = 0; k < 4; k++) {
			int d = k < take ? b64_value(in[i + k], url) : 0;
			if (d < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		*p++ = (uint8_t)(v >> 16);
		if (take > 2)
			*p++ = (uint8_t)(v >> 8);
		if (take > 3)
			*p++ = (uint8_t)v;
		/* Bits that no output byte carries must be zero (canonical). */
		if ((take == 2 && (v & 0xffff)) || (take == 3 && (v & 0xff)))
			return -1;
	}
	*outlen = (size_t)(p - out);
	return 0;
}

uint8_t *b64_decode(const char *in, size_t inlen, int url, size_t *outlen)
{
	uint8_t *out = malloc(b64_decoded_max(inlen));

	if (out == NULL)
		return NULL;
	if (b64_decode_into(in, inlen, url, out, outlen) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
