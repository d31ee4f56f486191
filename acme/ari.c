/* ACME Renewal Information (RFC 9773): certificate identifiers and the
 * suggested renewal window. */
#include "acme/ari.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/hex.h"

static int part(const char *s, size_t n, uint8_t *out, size_t max, size_t *len)
{
	/* b64_decode_into needs room for b64_decoded_max(n) bytes. */
	uint8_t tmp[128];

	if (n == 0 || b64_decoded_max(n) > sizeof tmp || b64_decode_into(s, n, 1, tmp, len) != 0 ||
	    *len == 0 || *len > max)
		return -1;
	memcpy(out, tmp, *len);
	return 0;
}

int acme_ari_parse(const char *cert_id, uint8_t aki[ACME_ARI_AKI_MAX], size_t *aki_len,
		   char serial[33])
{
	const char *dot = strchr(cert_id, '.');
	uint8_t sn[17], raw[16] = {0};
	size_t sn_len, skip = 0;

	if (dot == NULL || strchr(dot + 1, '.') != NULL ||
	    part(cert_id, (size_t)(dot - cert_id), aki, ACME_ARI_AKI_MAX, aki_len) != 0 ||
	    part(dot + 1, strlen(dot + 1), sn, sizeof sn, &sn_len) != 0)
		return -1;
	if (sn[0] & 0x80) /* a negative INTEGER: no serial of ours */
		return -1;
	while (skip < sn_len && sn[skip] == 0)
		skip++;
	if (skip == sn_len || sn_len - skip > sizeof raw)
		return -1;
	memcpy(raw + sizeof raw - (sn_len - skip), sn + skip, sn_len - skip);
	hex_encode(raw, sizeof raw, serial);
	return 0;
}

void acme_ari_window(long long not_before, long long not_after, int revoked, long long now,
		     long long *start, long long *end, long *retry_after)
{
	long long life = not_after > not_before ? not_after - not_before : 0;
	long long r = life / 20;

	if (revoked) {
		*start = now - 3600;
		*end = now - 60;
	} else {
		*start = not_before + life * 2 / 3;
		*end = not_before + life * 5 / 6;
	}
	*retry_after = (long)(r < 60 ? 60 : r > 21600 ? 21600 : r);
}

int acme_ari_cert_id(const uint8_t *aki, size_t aki_len, const char *serial, char *out,
		     size_t outlen)
{
	uint8_t raw[17];
	char *a = NULL, *s = NULL;
	size_t skip = 0;
	int rc = -1;

	raw[0] = 0;
	if (strlen(serial) != 32 || hex_decode(serial, raw + 1, 16) != 16)
		return -1;
	/* DER content octets: minimal, with a zero byte before a high bit. */
	skip = 1;
	while (skip < 16 && raw[skip] == 0)
		skip++;
	if (raw[skip] & 0x80)
		skip--;
	if ((a = b64_encode(aki, aki_len, 1)) != NULL &&
	    (s = b64_encode(raw + skip, sizeof raw - skip, 1)) != NULL &&
	    (size_t)snprintf(out, outlen, "%s.%s", a, s) < outlen)
		rc = 0;
	free(a);
	free(s);
	return rc;
}
