/* Base64 (RFC 4648 section 4) and base64url without padding (section 5),
 * as JOSE, ACME and the DPS wire format use them. */
#ifndef ORCHARD_B64_H
#define ORCHARD_B64_H
#include <stddef.h>
#include <stdint.h>

/* Encoded length for n input bytes, without the NUL. */
size_t b64_encoded_len(size_t n, int url);

/* Encodes n bytes into a new NUL-terminated string the caller frees, or
 * returns NULL when out of memory. url=1 selects base64url, no padding. */
char *b64_encode(const uint8_t *in, size_t n, int url);

/* Decodes strictly (no whitespace; padding required for base64 and refused
 * for base64url; non-zero trailing bits refused) into a new buffer the
 * caller frees, with its length in *outlen. Returns NULL on bad input. */
uint8_t *b64_decode(const char *in, size_t inlen, int url, size_t *outlen);

/* The most bytes inlen characters decode to. */
size_t b64_decoded_max(size_t inlen);

/* b64_decode into out (b64_decoded_max(inlen) bytes, the caller's), so that
 * bad input (-1) and no memory are told apart. Returns 0 with *outlen set. */
int b64_decode_into(const char *in, size_t inlen, int url, uint8_t *out, size_t *outlen);

#endif
