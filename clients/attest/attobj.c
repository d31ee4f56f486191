/* The WebAuthn "tpm" attestation object device-attest-01 sends (libcbor),
 * and a PKCS#10 request whose signature the TPM makes: OpenSSL encodes
 * the CertificationRequestInfo, the TPM signs its SHA-256, OpenSSL wraps
 * the result (no OpenSSL TPM provider needed). */
#include <cbor.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/attest/attest.h"

static bool put(cbor_item_t *map, const char *key, cbor_item_t *value)
{
	bool ok =
		value != NULL && cbor_map_add(map, (struct cbor_pair){
							   .key = cbor_move(cbor_build_string(key)),
							   .value = cbor_move(value),
						   });
	return ok;
}

static cbor_item_t *bytes(const struct oa_buf *b)
{
	return cbor_build_bytestring(b->b, b->n);
}

/* The quote gate's map (see attest.h). */
static cbor_item_t *quote_map(const struct oa_quote *q)
{
	size_t n = 0;
	cbor_item_t *m, *pcrs;
	bool ok;

	for (unsigned i = 0; i < 24; i++)
		n += (q->mask >> i) & 1;
	m = cbor_new_definite_map(q->event_log.n ? 5 : 4);
	pcrs = cbor_new_definite_array(n);
	ok = m && pcrs;
	for (unsigned i = 0; ok && i < 24; i++) {
		cbor_item_t *e;
		if (!((q->mask >> i) & 1))
			continue;
		e = cbor_new_definite_array(3);
		ok = e && cbor_array_push(e, cbor_move(cbor_build_uint16(0x000b))) &&
		     cbor_array_push(e, cbor_move(cbor_build_uint8((uint8_t)i))) &&
		     cbor_array_push(e, cbor_move(cbor_build_bytestring(q->values[i], 32)));
		ok = ok && cbor_array_push(pcrs, e);
		if (e)
			cbor_decref(&e);
	}
	ok = ok && put(m, "akPub", bytes(&q->ak_pub)) && put(m, "quoted", bytes(&q->quoted)) &&
	     put(m, "sig", bytes(&q->sig)) && put(m, "pcrs", pcrs);
	if (ok && q->event_log.n)
		ok = put(m, "eventLog", bytes(&q->event_log));
	if (!ok) {
		if (m)
			cbor_decref(&m);
		return NULL;
	}
	return m;
}

int oa_attobj(long alg, const struct oa_buf *x5c, size_t nx5c, const struct oa_buf *sig,
	      const struct oa_buf *cert_info, const struct oa_buf *pub_area,
	      const struct oa_quote *quote, struct oa_buf *out, char *err)
{
	cbor_item_t *root = cbor_new_definite_map(quote ? 3 : 2), *st = cbor_new_definite_map(6);
	cbor_item_t *chain = cbor_new_definite_array(nx5c);
	unsigned long n = (unsigned long)(-1 - alg);
	unsigned char *buf = NULL;
	size_t size = 0, len = 0;
	bool ok = root && st && chain && alg < 0;

	for (size_t i = 0; ok && i < nx5c; i++)
		ok = cbor_array_push(chain, cbor_move(bytes(&x5c[i])));
	ok = ok && put(st, "ver", cbor_build_string("2.0")) &&
	     put(st, "alg",
		 n < 256 ? cbor_build_negint8((uint8_t)n) : cbor_build_negint16((uint16_t)n)) &&
	     put(st, "x5c", chain) && put(st, "sig", bytes(sig)) &&
	     put(st, "certInfo", bytes(cert_info)) && put(st, "pubArea", bytes(pub_area));
	chain = NULL;
	ok = ok && put(root, "fmt", cbor_build_string("tpm")) && put(root, "attStmt", st);
	st = NULL;
	if (ok && quote != NULL)
		ok = put(root, "orchardQuote", quote_map(quote));
	if (ok)
		len = cbor_serialize_alloc(root, &buf, &size);
	if (root != NULL)
		cbor_decref(&root);
	if (st != NULL)
		cbor_decref(&st);
	if (chain != NULL)
		cbor_decref(&chain);
	if (!ok || len == 0) {
		free(buf);
		snprintf(err, OA_ERR_MAX, "cannot build the attestation object");
		return -1;
	}
	out->b = buf;
	out->n = len;
	return 0;
}

int oa_csr(struct oa_tpm *t, const char *cn, struct oa_buf *out, char *err)
{
	EVP_PKEY *pk = oa_tpm_key_pkey(t, err);
	X509_REQ *req = X509_REQ_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
	unsigned char *tbs = NULL, *der = NULL;
	uint8_t md[32];
	struct oa_buf sig = {0};
	int tbslen, len = -1;
	bool ecc;

	if (pk == NULL || req == NULL || alg == NULL || bits == NULL)
		goto out;
	ecc = EVP_PKEY_base_id(pk) == EVP_PKEY_EC;
	if (cn != NULL &&
	    !X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName,
					MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
		goto out;
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_pubkey(req, pk) ||
	    !X509_ALGOR_set0(alg,
			     OBJ_nid2obj(ecc ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption),
			     ecc ? V_ASN1_UNDEF : V_ASN1_NULL, NULL) ||
	    !X509_REQ_set1_signature_algo(req, alg))
		goto out;
	if ((tbslen = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0 ||
	    EVP_Digest(tbs, (size_t)tbslen, md, NULL, EVP_sha256(), NULL) != 1)
		goto out;
	if (oa_tpm_sign(t, md, &sig, err) != 0)
		goto out;
	if (!ASN1_BIT_STRING_set(bits, sig.b, (int)sig.n))
		goto out;
	/* Whole bytes: without this OpenSSL counts a signature's trailing zero
	 * bits as unused, and the request no longer verifies. */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bits);
	bits = NULL;
	len = i2d_X509_REQ(req, &der);
out:
	if (len > 0) {
		out->b = malloc((size_t)len);
		if (out->b != NULL) {
			memcpy(out->b, der, (size_t)len);
			out->n = (size_t)len;
		}
	}
	if (out->b == NULL && err[0] == '\0')
		snprintf(err, OA_ERR_MAX, "cannot build the CSR");
	OPENSSL_free(tbs);
	OPENSSL_free(der);
	oa_buf_free(&sig);
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(alg);
	X509_REQ_free(req);
	EVP_PKEY_free(pk);
	return out->b != NULL ? 0 : -1;
}
