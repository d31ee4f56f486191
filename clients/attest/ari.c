/* ACME Renewal Information on the device side (RFC 9773): the certID of a
 * certificate, and the window the CA suggests for renewing it. An agent
 * asks renewalInfo, renews at a time inside the window with a newOrder
 * whose `replaces` is the certID (oa_cert_opts.replaces). */
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/attest/attest.h"
#include "common/b64.h"

char *oa_acme_cert_id(const struct oa_buf *pem, char *err)
{
	BIO *bio = BIO_new_mem_buf(pem->b, (int)pem->n);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	const ASN1_OCTET_STRING *aki = x ? X509_get0_authority_key_id(x) : NULL;
	BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	uint8_t sn[64];
	int n = bn ? BN_num_bytes(bn) : 0;
	char *a64 = NULL, *s64 = NULL, *out = NULL;

	if (aki == NULL || bn == NULL || BN_is_negative(bn) || n < 1 || n > 62) {
		snprintf(err, OA_ERR_MAX, "no certificate with an authority key identifier");
		goto out;
	}
	sn[0] = 0;
	BN_bn2bin(bn, sn + 1);
	/* DER INTEGER content: a zero byte before a high bit */
	a64 = b64_encode(ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki), 1);
	s64 = (sn[1] & 0x80) ? b64_encode(sn, (size_t)n + 1, 1) : b64_encode(sn + 1, (size_t)n, 1);
	if (a64 == NULL || s64 == NULL || (out = malloc(strlen(a64) + strlen(s64) + 2)) == NULL) {
		snprintf(err, OA_ERR_MAX, "out of memory");
		goto out;
	}
	snprintf(out, strlen(a64) + strlen(s64) + 2, "%s.%s", a64, s64);
out:
	free(a64);
	free(s64);
	BN_free(bn);
	X509_free(x);
	BIO_free(bio);
	return out;
}

/* "2026-12-01T15:20:33Z" (fractions of a second ignored) into epoch
 * seconds; -1 when it is not one. */
static long long rfc3339(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof tm);
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0)
		return -1;
	return (long long)timegm(&tm);
}

int oa_acme_renewal_info(struct oa_acme *a, const char *cert_id, struct oa_renewal *w, char *err)
{
	struct oa_resp r;
	json_t *j = NULL, *win;
	json_error_t je;
	char *url;
	size_t len;
	int rc = -1;

	memset(w, 0, sizeof *w);
	if (a->renewal_info == NULL || a->renewal_info[0] == '\0') {
		snprintf(err, OA_ERR_MAX, "the directory has no renewalInfo");
		return -1;
	}
	len = strlen(a->renewal_info) + strlen(cert_id) + 2;
	if ((url = malloc(len)) == NULL) {
		snprintf(err, OA_ERR_MAX, "out of memory");
		return -1;
	}
	snprintf(url, len, "%s/%s", a->renewal_info, cert_id);
	if (oa_http(a->cacert, "GET", url, NULL, NULL, 0, &r, err) != 0) {
		free(url);
		return -1;
	}
	free(url);
	if (r.status != 200 || (j = json_loadb((const char *)r.body.b, r.body.n, 0, &je)) == NULL) {
		snprintf(err, OA_ERR_MAX, "renewalInfo: HTTP %ld", r.status);
		goto out;
	}
	win = json_object_get(j, "suggestedWindow");
	w->start = rfc3339(json_string_value(json_object_get(win, "start")));
	w->end = rfc3339(json_string_value(json_object_get(win, "end")));
	w->retry_after = r.retry_after;
	if (w->start < 0 || w->end < w->start) {
		snprintf(err, OA_ERR_MAX, "renewalInfo: no suggestedWindow");
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	oa_resp_free(&r);
	return rc;
}

long long oa_renewal_pick(const struct oa_renewal *w, long long now)
{
	long long from = w->start > now ? w->start : now;
	uint64_t r = 0;

	if (w->end <= from)
		return now; /* the window has passed (or is a point): now */
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		return from;
	return from + (long long)(r % (uint64_t)(w->end - from));
}
