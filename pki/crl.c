/* CRLs signed by the intermediate or by the attestation CA, and RFC 5280
 * reason codes. */
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki_int.h"

/* RFC 5280 5.3.1 CRLReason; 7 is not used. */
static const char *const reasons[] = {
	"unspecified",	 "keyCompromise",	 "cACompromise",    "affiliationChanged",
	"superseded",	 "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn",	 "aACompromise",
};

int pki_reason_parse(const char *name)
{
	for (int i = 0; name != NULL && i < (int)(sizeof reasons / sizeof reasons[0]); i++)
		if (reasons[i] != NULL && strcmp(reasons[i], name) == 0)
			return i;
	return -1;
}

const char *pki_reason_name(int code)
{
	return code >= 0 && code < (int)(sizeof reasons / sizeof reasons[0]) ? reasons[code] : NULL;
}

static int entry_add(X509_CRL *crl, const struct pki_revoked *r)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)r->revoked_at);
	ASN1_ENUMERATED *reason = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	int ok = 0;

	if (rev == NULL || t == NULL || BN_hex2bn(&bn, r->serial) <= 0 ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, serial) || !X509_REVOKED_set_revocationDate(rev, t))
		goto out;
	/* "unspecified" is expressed by leaving the extension out (5.3.1). */
	if (r->reason > 0 && pki_reason_name(r->reason) != NULL) {
		if ((reason = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(reason, r->reason) ||
		    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0))
			goto out;
	}
	ok = X509_CRL_add0_revoked(crl, rev);
out:
	if (!ok)
		X509_REVOKED_free(rev);
	ASN1_ENUMERATED_free(reason);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	ASN1_TIME_free(t);
	return ok;
}

/* A CRL of issuer (its certificate, key and authority key identifier). */
static int crl_of(X509 *issuer, struct pki_signer *signer, X509_EXTENSION *aki,
		  const struct pki_revoked *revoked, size_t n, long long crl_number,
		  long next_update, uint8_t **der, size_t *der_len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_set(NULL, time(NULL));
	ASN1_TIME *next = ASN1_TIME_set(NULL, time(NULL) + next_update);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	unsigned char *out = NULL;
	int len, rc = -1;

	*der = NULL;
	*der_len = 0;
	if (crl == NULL || last == NULL || next == NULL || num == NULL ||
	    !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    !X509_CRL_set1_lastUpdate(crl, last) || !X509_CRL_set1_nextUpdate(crl, next) ||
	    !ASN1_INTEGER_set_int64(num, crl_number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) ||
	    !X509_CRL_add_ext(crl, aki, -1))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!entry_add(crl, &revoked[i]))
			goto out;
	if (!X509_CRL_sort(crl) || pki_sign_crl(signer, crl) != 0 ||
	    (len = i2d_X509_CRL(crl, &out)) <= 0 || (*der = malloc((size_t)len)) == NULL)
		goto out;
	memcpy(*der, out, (size_t)len);
	*der_len = (size_t)len;
	rc = 0;
out:
	OPENSSL_free(out);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return rc;
}

int pki_crl(struct pki_ca *ca, const struct pki_revoked *revoked, size_t n, long long crl_number,
	    long next_update, uint8_t **der, size_t *der_len)
{
	return crl_of(ca->cert, ca->signer, ca->aki, revoked, n, crl_number, next_update, der,
		      der_len);
}

int pki_crl_att(struct pki_ca *ca, const struct pki_revoked *revoked, size_t n,
		long long crl_number, long next_update, uint8_t **der, size_t *der_len)
{
	*der = NULL;
	*der_len = 0;
	if (ca->att_signer == NULL || ca->att_cert == NULL || ca->att_aki == NULL)
		return -1;
	return crl_of(ca->att_cert, ca->att_signer, ca->att_aki, revoked, n, crl_number,
		      next_update, der, der_len);
}
