/* AK certificates: the attestation CA signs a TPM attestation key's public
 * key (there is no CSR) under one fixed profile, with the TPM's identity
 * in the SAN. The caller proved possession by credential activation. */
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki/pki_int.h"

static void say(char *why, size_t len, const char *msg)
{
	if (why != NULL && len > 0)
		snprintf(why, len, "%s", msg);
}

/* The TPM directoryName of an EK certificate: a Name whose attributes are
 * all TPMManufacturer, TPMModel or TPMVersion (2.23.133.2.1-3), as a
 * GENERAL_NAME, or NULL. */
static GENERAL_NAME *tpm_dirname(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)len);
	GENERAL_NAME *gn = NULL;
	char oid[32];
	int n = name ? X509_NAME_entry_count(name) : 0;

	if (name == NULL || p != der + len || n == 0)
		goto fail;
	for (int i = 0; i < n; i++) {
		ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, i));
		if (OBJ_obj2txt(oid, sizeof oid, o, 1) <= 0 ||
		    (strcmp(oid, "2.23.133.2.1") != 0 && strcmp(oid, "2.23.133.2.2") != 0 &&
		     strcmp(oid, "2.23.133.2.3") != 0))
			goto fail;
	}
	if ((gn = GENERAL_NAME_new()) == NULL)
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, name);
	return gn;
fail:
	X509_NAME_free(name);
	return NULL;
}

static int extensions_add(struct pki_ca *ca, X509 *x)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ski, *ku, *eku;
	int ok;

	X509V3_set_ctx(&ctx, ca->att_cert, x, NULL, NULL, 0);
	ski = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	ku = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,digitalSignature");
	eku = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, "2.23.133.8.3");
	ok = ski != NULL && ku != NULL && eku != NULL && X509_add_ext(x, ca->bc, -1) &&
	     X509_add_ext(x, ku, -1) && X509_add_ext(x, eku, -1) && X509_add_ext(x, ski, -1) &&
	     X509_add_ext(x, ca->att_aki, -1) &&
	     (ca->att_cdp == NULL || X509_add_ext(x, ca->att_cdp, -1));
	X509_EXTENSION_free(ski);
	X509_EXTENSION_free(ku);
	X509_EXTENSION_free(eku);
	return ok;
}

static char *pem_of(X509 *x, const char *tail)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;
	size_t tlen = strlen(tail);

	if (b != NULL && PEM_write_bio_X509(b, x) && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (out = malloc((size_t)n + tlen + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		memcpy(out + n, tail, tlen + 1);
	}
	BIO_free(b);
	return out;
}

enum pki_status pki_issue_ak(struct pki_ca *ca, const struct pki_ak_req *req, struct pki_cert *out,
			     char *why, size_t whylen)
{
	enum pki_status st = PKI_ERR_INTERNAL;
	const unsigned char *p = req->spki_der;
	EVP_PKEY *key = NULL;
	GENERAL_NAME *tpm = NULL;
	X509 *x = NULL;
	unsigned char *der = NULL;
	time_t now = time(NULL);
	long long not_after = (long long)now + PKI_AK_LIFETIME;
	struct pki_san sans[2] = {
		{PKI_SAN_URI, req->ek_uri, NULL},
		{PKI_SAN_PERMANENT_ID, req->permanent_id, NULL},
	};
	struct tm tm;
	int n;

	memset(out, 0, sizeof *out);
	say(why, whylen, "internal error");
	if (ca->att_signer == NULL) {
		say(why, whylen, "this CA has no attestation CA");
		return PKI_ERR_PROFILE;
	}
	if (req->spki_der == NULL || (key = d2i_PUBKEY(NULL, &p, (long)req->spki_len)) == NULL ||
	    p != req->spki_der + req->spki_len ||
	    (pki__key_classify(key, out->key_type, sizeof out->key_type) &
	     (PKI_KEY_P256 | PKI_KEY_P384 | PKI_KEY_RSA)) == 0) {
		say(why, whylen, "the attestation key is not P-256, P-384 or RSA");
		st = PKI_ERR_KEY_TYPE;
		goto out;
	}
	if (req->ek_uri == NULL || req->permanent_id == NULL ||
	    (req->tpm_name_der != NULL &&
	     (tpm = tpm_dirname(req->tpm_name_der, req->tpm_name_len)) == NULL)) {
		say(why, whylen, "malformed TPM name, EK URI or permanent identifier");
		st = PKI_ERR_SAN;
		goto out;
	}
	if (req->not_after != 0 && req->not_after < not_after)
		not_after = req->not_after;
	if ((x = X509_new()) == NULL || pki__serial_set(x, out->serial) != 0 ||
	    !X509_set_version(x, 2) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->att_cert)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), now - PKI_BACKDATE) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) || !X509_set_pubkey(x, key))
		goto out;
	/* Never outlive the attestation CA. */
	if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->att_cert)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca->att_cert)))
		goto out;
	/* The subject is empty, so the SAN is critical (RFC 5280 4.2.1.6). */
	n = pki__sans_add(x, tpm, sans, 2, 1, out->sans_text, sizeof out->sans_text, why, whylen);
	tpm = NULL;
	if (!n) {
		st = PKI_ERR_SAN;
		goto out;
	}
	if (!extensions_add(ca, x) || pki_sign_cert(ca->att_signer, x) != 0 ||
	    (n = i2d_X509(x, &der)) <= 0 || (out->chain_pem = pem_of(x, ca->att_pem)) == NULL ||
	    (out->der = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(out->der, der, (size_t)n);
	out->der_len = (size_t)n;
	out->not_before = (long long)now - PKI_BACKDATE;
	out->not_after = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 ? (long long)timegm(&tm)
									  : not_after;
	st = PKI_OK;
	say(why, whylen, "");
out:
	GENERAL_NAME_free(tpm);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
	if (st != PKI_OK)
		pki_cert_free(out);
	return st;
}

const char *pki_ca_att_pem(const struct pki_ca *ca)
{
	return ca->att_pem;
}
