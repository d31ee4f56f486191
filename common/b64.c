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

/* Each character's value plus one; 0 for a byte outside the alphabet. */
/* clang-format off */
#define B64_ALNUM_VALUES \
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8, \
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, \
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, \
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, \
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, \
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43, \
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, \
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, \
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62
static const uint8_t std_value[256] = {B64_ALNUM_VALUES, ['+'] = 63, ['/'] = 64};
static const uint8_t url_value[256] = {B64_ALNUM_VALUES, ['-'] = 63, ['_'] = 64};
/* clang-format on */

size_t b64_decoded_max(size_t inlen)
{
	return inlen / 4 * 3 + 3;
}

/* Whole groups of four through the tables (about 4 instructions a
 * character; a chain of range tests per character cost 20-25, 70 K per
 * ACME issuance), then the tail of two or three. */
int b64_decode_into(const char *in, size_t inlen, int url, uint8_t *out, size_t *outlen)
{
	const uint8_t *t = url ? url_value : std_value;
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, rem, full;
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
	full = inlen - rem;
	for (size_t i = 0; i < full; i += 4) {
		uint32_t a = t[s[i]], b = t[s[i + 1]], c = t[s[i + 2]], d = t[s[i + 3]];
		if (a == 0 || b == 0 || c == 0 || d == 0)
			return -1;
		uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
		p[0] = (uint8_t)(v >> 16);
		p[1] = (uint8_t)(v >> 8);
		p[2] = (uint8_t)v;
		p += 3;
	}
	if (rem > 0) {
		uint32_t a = t[s[full]], b = t[s[full + 1]], c = rem == 3 ? t[s[full + 2]] : 1;
		if (a == 0 || b == 0 || c == 0)
			return -1;
		uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
		*p++ = (uint8_t)(v >> 16);
		if (rem == 3)
			*p++ = (uint8_t)(v >> 8);
		/* Bits that no output byte carries must be zero (canonical). */
		if ((rem == 2 && (v & 0xffff)) || (rem == 3 && (v & 0xff)))
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
