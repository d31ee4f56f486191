/* pki_device_cert(): whether a TLS client's chain is a device certificate
 * this CA's issuing intermediate signed, valid now, for client
 * authentication, and the identity it names (RFC 4043 PermanentIdentifier,
 * else its URI). The caller decides which device that is. */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "common/hex.h"
#include "pki/pki.h"
#include "pki/pki_int.h"

/* DER length at *p (short or one/two-byte long form); -1 when bad. */
static long der_len(const unsigned char **p, const unsigned char *end)
{
	long n;

	if (*p >= end)
		return -1;
	n = *(*p)++;
	if (n < 0x80)
		return n;
	if (n == 0x81 && *p < end)
		return *(*p)++;
	if (n == 0x82 && *p + 1 < end) {
		n = ((long)(*p)[0] << 8) | (*p)[1];
		*p += 2;
		return n;
	}
	return -1;
}

/* PermanentIdentifier ::= SEQUENCE { identifierValue UTF8String OPTIONAL,
 * assigner OBJECT IDENTIFIER OPTIONAL }: the value into out. 0 or -1. */
static int permanent_id_value(const ASN1_TYPE *v, char *out, size_t len)
{
	const unsigned char *p, *end;
	long n;

	if (v == NULL || v->type != V_ASN1_SEQUENCE)
		return -1;
	p = ASN1_STRING_get0_data(v->value.sequence);
	end = p + ASN1_STRING_length(v->value.sequence);
	if (p >= end || *p++ != 0x30 || (n = der_len(&p, end)) < 0 || p + n != end)
		return -1;
	if (p >= end || *p++ != V_ASN1_UTF8STRING || (n = der_len(&p, end)) <= 0 || p + n > end ||
	    (size_t)n >= len || memchr(p, 0, (size_t)n) != NULL)
		return -1;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	return 0;
}

/* The leaf's PermanentIdentifier and first URI SAN ("" when absent); -1
 * when it has two PermanentIdentifiers or one that does not parse or fit. */
static int leaf_names(X509 *leaf, char *pid, size_t pidlen, char *uri, size_t urilen)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	ASN1_OBJECT *pid_oid = OBJ_txt2obj("1.3.6.1.5.5.7.8.3", 1);
	int rc = names != NULL && pid_oid != NULL ? 0 : -1, npid = 0;

	pid[0] = uri[0] = '\0';
	for (int i = 0; rc == 0 && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type == GEN_OTHERNAME && OBJ_cmp(gn->d.otherName->type_id, pid_oid) == 0) {
			if (npid++ > 0 ||
			    permanent_id_value(gn->d.otherName->value, pid, pidlen) != 0)
				rc = -1;
		} else if (gn->type == GEN_URI && uri[0] == '\0') {
			int n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			const unsigned char *s =
				ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
			if (n > 0 && (size_t)n < urilen && memchr(s, 0, (size_t)n) == NULL) {
				memcpy(uri, s, (size_t)n);
				uri[n] = '\0';
			}
		}
	}
	ASN1_OBJECT_free(pid_oid);
	GENERAL_NAMES_free(names);
	return rc;
}

int pki_device_cert(const struct pki_ca *ca, STACK_OF(X509) * chain, char serial[33], char *pid,
		    size_t pidlen, char *uri, size_t urilen)
{
	X509 *leaf = sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	uint8_t raw[16];
	int n, rc = -1;

	serial[0] = '\0';
	/* Only the issuing intermediate: never the attestation CA's AK
	 * certificates, never an intermediate the peer sends. */
	if (leaf == NULL || X509_check_issued(ca->cert, leaf) != X509_V_OK ||
	    X509_verify(leaf, X509_get0_pubkey(ca->cert)) != 1) {
		ERR_clear_error();
		return 1;
	}
	if ((store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(store, ca->root) ||
	    (untrusted = sk_X509_new_null()) == NULL || !sk_X509_push(untrusted, ca->cert) ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, leaf, untrusted) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) ||
	    X509_verify_cert(ctx) != 1 || X509_STORE_CTX_get_current_cert(ctx) == NULL)
		goto out;
	/* The chain built must be leaf, our intermediate, our root. */
	STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
	if (sk_X509_num(built) != 3 || X509_cmp(sk_X509_value(built, 1), ca->cert) != 0)
		goto out;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	n = bn && !BN_is_negative(bn) ? BN_bn2binpad(bn, raw, sizeof raw) : -1;
	BN_free(bn);
	if (n != (int)sizeof raw || leaf_names(leaf, pid, pidlen, uri, urilen) != 0)
		goto out;
	hex_encode(raw, sizeof raw, serial);
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}
