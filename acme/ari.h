/* ACME Renewal Information (RFC 9773): the certificate identifier
 * clients send (base64url(AKI) "." base64url(serial)) and the renewal
 * window the server suggests. Pure functions: no HTTP, no SQL. */
#ifndef ORCHARD_ACME_ARI_H
#define ORCHARD_ACME_ARI_H
#include <stddef.h>
#include <stdint.h>

#define ACME_ARI_AKI_MAX 64

/* Parses cert_id into the authority key identifier (aki, room for
 * ACME_ARI_AKI_MAX bytes, length in *aki_len) and the serial as 32
 * lower-case hex digits (Orchard's serials are 128 bits; the DER content
 * octets may carry a leading zero byte, which is accepted with or without).
 * 0, or -1 when it is not two strict base64url parts or the serial is
 * longer than 128 bits, negative or empty. */
int acme_ari_parse(const char *cert_id, uint8_t aki[ACME_ARI_AKI_MAX], size_t *aki_len,
		   char serial[33]);

/* The identifier of the certificate with serial (32 hex digits) issued
 * under a key with identifier aki, into out. 0, or -1 when serial is not
 * 32 hex digits or out is too small. */
int acme_ari_cert_id(const uint8_t *aki, size_t aki_len, const char *serial, char *out,
		     size_t outlen);

/* The suggested window of a certificate valid from not_before to
 * not_after (epoch s): from two thirds of its lifetime to five sixths, so
 * it is renewed well before it lapses. A revoked certificate (revoked not
 * 0) gets a window that ended before now: renew at once. *retry_after is
 * when to ask again: a twentieth of the lifetime, between 60 s and 6 h. */
void acme_ari_window(long long not_before, long long not_after, int revoked, long long now,
		     long long *start, long long *end, long *retry_after);

#endif
