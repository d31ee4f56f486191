/* Issuing a leaf: check the CSR (DER, self-signature, key type the profile
 * allows), build the certificate from the caller's SANs and the profile,
 * and have the signer sign it. Names in the CSR are never copied. */
#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "pki/pki_int.h"

#include <stdarg.h>

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* A DNS name as RFC 1035 preferred syntax allows (a leading "*." too). */
static int dns_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return 0;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)))
			return 0;
		label++;
	}
}

/* A DER TLV into out (room cap); returns the bytes written or 0. */
static size_t der_tlv(uint8_t tag, const uint8_t *v, size_t n, uint8_t *out, size_t cap)
{
	size_t h = n < 128 ? 2 : n < 256 ? 3 : 4;

	if (n > 65535 || h + n > cap)
		return 0;
	out[0] = tag;
	if (n < 128) {
		out[1] = (uint8_t)n;
	} else if (n < 256) {
		out[1] = 0x81;
		out[2] = (uint8_t)n;
	} else {
		out[1] = 0x82;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
	}
	memcpy(out + h, v, n);
	return h + n;
}

/* An OID in dotted text as DER content-with-tag, or 0. */
static size_t oid_der(const char *dotted, uint8_t *out, size_t cap)
{
	ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);
	int n = o ? i2d_ASN1_OBJECT(o, NULL) : 0;
	unsigned char *p = out;

	if (n <= 0 || (size_t)n > cap || i2d_ASN1_OBJECT(o, &p) != n)
		n = 0;
	ASN1_OBJECT_free(o);
	return (size_t)n;
}

/* otherName for RFC 4043 PermanentIdentifier ::= SEQUENCE { identifierValue
 * UTF8String OPTIONAL, assigner OID OPTIONAL } or RFC 4108
 * HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING }. */
static GENERAL_NAME *othername_make(const struct pki_san *san)
{
	uint8_t inner[700], seq[800];
	size_t n = 0, m, vlen = strlen(san->value);
	/* id-on-permanentIdentifier, id-on-hardwareModuleName (no NID in 3.0) */
	const char *oid =
		san->type == PKI_SAN_PERMANENT_ID ? "1.3.6.1.5.5.7.8.3" : "1.3.6.1.5.5.7.8.4";
	ASN1_OBJECT *type = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_TYPE *val = NULL;
	ASN1_STRING *str = NULL;

	if (vlen == 0 || vlen > 255)
		return NULL;
	if (san->type == PKI_SAN_PERMANENT_ID) {
		n = der_tlv(V_ASN1_UTF8STRING, (const uint8_t *)san->value, vlen, inner,
			    sizeof inner);
		if (san->assigner != NULL) {
			if ((m = oid_der(san->assigner, inner + n, sizeof inner - n)) == 0)
				return NULL;
			n += m;
		}
	} else {
		if (san->assigner == NULL || (n = oid_der(san->assigner, inner, sizeof inner)) == 0)
			return NULL;
		if ((m = der_tlv(V_ASN1_OCTET_STRING, (const uint8_t *)san->value, vlen, inner + n,
				 sizeof inner - n)) == 0)
			return NULL;
		n += m;
	}
	if ((m = der_tlv(0x30, inner, n, seq, sizeof seq)) == 0)
		return NULL;
	if ((gn = GENERAL_NAME_new()) == NULL || (val = ASN1_TYPE_new()) == NULL ||
	    (str = ASN1_STRING_new()) == NULL || !ASN1_STRING_set(str, seq, (int)m))
		goto fail;
	ASN1_TYPE_set(val, V_ASN1_SEQUENCE, str);
	str = NULL;
	if ((type = OBJ_txt2obj(oid, 1)) == NULL || !GENERAL_NAME_set0_othername(gn, type, val))
		goto fail;
	return gn;
fail:
	ASN1_OBJECT_free(type);
	ASN1_STRING_free(str);
	ASN1_TYPE_free(val);
	GENERAL_NAME_free(gn);
	return NULL;
}

static GENERAL_NAME *san_make(const struct pki_san *san)
{
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;

	if (san->value == NULL)
		return NULL;
	switch (san->type) {
	case PKI_SAN_DNS:
	case PKI_SAN_URI:
		if (san->type == PKI_SAN_DNS
			    ? !dns_ok(san->value)
			    : (strchr(san->value, ':') == NULL || strlen(san->value) > 2048 ||
			       strpbrk(san->value, " \t\r\n\"<>") != NULL))
			return NULL;
		if ((gn = GENERAL_NAME_new()) == NULL || (ia5 = ASN1_IA5STRING_new()) == NULL ||
		    !ASN1_STRING_set(ia5, san->value, -1)) {
			ASN1_IA5STRING_free(ia5);
			GENERAL_NAME_free(gn);
			return NULL;
		}
		GENERAL_NAME_set0_value(gn, san->type == PKI_SAN_DNS ? GEN_DNS : GEN_URI, ia5);
		return gn;
	case PKI_SAN_IP: {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(san->value);
		if (ip == NULL || (gn = GENERAL_NAME_new()) == NULL) {
			ASN1_OCTET_STRING_free(ip);
			return NULL;
		}
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		return gn;
	}
	case PKI_SAN_PERMANENT_ID:
	case PKI_SAN_HW_MODULE: return othername_make(san);
	}
	return NULL;
}

static const char *san_prefix(enum pki_san_type t)
{
	static const char *const p[] = {"DNS", "IP", "URI", "permanentIdentifier",
					"hardwareModuleName"};
	return p[t];
}

/* The SAN extension (critical when the subject is empty) and the text. */
static int sans_add(X509 *x, const struct pki_issue_req *req, int critical, char *text, size_t len,
		    char *why, size_t whylen)
{
	return pki__sans_add(x, NULL, req->sans, req->nsans, critical, text, len, why, whylen);
}

int pki__sans_add(X509 *x, GENERAL_NAME *first, const struct pki_san *sans, size_t nsans,
		  int critical, char *text, size_t len, char *why, size_t whylen)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	size_t off = 0;
	int ok = 0;

	text[0] = '\0';
	if (names == NULL)
		goto out;
	if (first != NULL) {
		if (!sk_GENERAL_NAME_push(names, first))
			goto out;
		char dn[256] = "";
		if (first->type != GEN_DIRNAME ||
		    X509_NAME_oneline(first->d.dirn, dn, sizeof dn) == NULL)
			snprintf(dn, sizeof dn, "?");
		first = NULL;
		snprintf(text, len, "DirName:%s", dn);
		off = strlen(text);
	}
	for (size_t i = 0; i < nsans; i++) {
		const struct pki_san *s = &sans[i];
		GENERAL_NAME *gn = (unsigned)s->type <= PKI_SAN_HW_MODULE ? san_make(s) : NULL;
		if (gn == NULL) {
			say(why, whylen, "malformed subject alternative name: %.200s", s->value);
			goto out;
		}
		if (!sk_GENERAL_NAME_push(names, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
		int w = snprintf(text + off, len - off, "%s%s:%s", off ? ", " : "",
				 san_prefix(s->type), s->value);
		off = w < 0 || (size_t)w >= len - off ? len - 1 : off + (size_t)w;
	}
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, names, critical, X509V3_ADD_APPEND) == 1;
	if (!ok)
		say(why, whylen, "cannot encode the subject alternative names");
out:
	GENERAL_NAME_free(first);
	GENERAL_NAMES_free(names);
	return ok;
}

/* The subject's CN: the caller's, or the first DNS/IP/URI SAN when it fits
 * the 64 characters of ub-common-name. NULL: an empty subject. */
static const char *cn_pick(const struct pki_issue_req *req)
{
	if (req->subject != NULL)
		return strlen(req->subject) <= 64 ? req->subject : NULL;
	for (size_t i = 0; i < req->nsans; i++)
		if (req->sans[i].type <= PKI_SAN_URI && strlen(req->sans[i].value) <= 64)
			return req->sans[i].value;
	return NULL;
}

/* Puts the CSR's SubjectPublicKeyInfo into x as it is. X509_set_pubkey()
 * would encode the EVP_PKEY again and decode it through OpenSSL 3.0's
 * decoders, which took 40% of an issue; a copy of the fields does not.
 * Parameters other than none, NULL or a named curve take that slow path. */
static int pubkey_copy(X509 *x, const struct pki_csr *csr, EVP_PKEY *key)
{
	const unsigned char *pk;
	int pklen, ptype = V_ASN1_UNDEF;
	const X509_ALGOR *alg;
	ASN1_OBJECT *obj = NULL, *curve = NULL;
	unsigned char *enc = NULL;

	if (!pki__csr_spki(csr, &alg, &pk, &pklen))
		return 0;
	if (alg->parameter != NULL) {
		if (alg->parameter->type == V_ASN1_NULL)
			ptype = V_ASN1_NULL;
		else if (alg->parameter->type == V_ASN1_OBJECT)
			ptype = V_ASN1_OBJECT;
		else
			return X509_set_pubkey(x, key);
	}
	if ((obj = OBJ_dup(alg->algorithm)) == NULL ||
	    (ptype == V_ASN1_OBJECT && (curve = OBJ_dup(alg->parameter->value.object)) == NULL) ||
	    (enc = OPENSSL_memdup(pk, (size_t)pklen)) == NULL ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), obj, ptype, curve, enc, pklen)) {
		ASN1_OBJECT_free(obj);
		ASN1_OBJECT_free(curve);
		OPENSSL_free(enc);
		return 0;
	}
	return 1;
}

static int extensions_add(struct pki_ca *ca, const struct pki_profile *prof, X509 *x)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ski;
	int ok;

	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	ski = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	ok = ski != NULL && X509_add_ext(x, ca->bc, -1) && X509_add_ext(x, prof->ku, -1) &&
	     (prof->eku == NULL || X509_add_ext(x, prof->eku, -1)) && X509_add_ext(x, ski, -1) &&
	     X509_add_ext(x, ca->aki, -1) && (ca->cdp == NULL || X509_add_ext(x, ca->cdp, -1));
	X509_EXTENSION_free(ski);
	return ok;
}

/* The leaf PEM followed by the intermediate's. */
/* The leaf's PEM, from its DER, then the intermediate's: what
 * PEM_write_bio_X509 writes (64 base64 characters a line), without its
 * second encoding of the certificate and its BIO (about 85 K instructions
 * a certificate). */
static char *chain_make(struct pki_ca *ca, const unsigned char *der, size_t n)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n",
			  end[] = "-----END CERTIFICATE-----\n";
	size_t clen = strlen(ca->cert_pem), lines = (n + 47) / 48;
	char *out = malloc(sizeof begin - 1 + lines * 65 + sizeof end - 1 + clen + 1), *p = out;

	if (out == NULL)
		return NULL;
	memcpy(p, begin, sizeof begin - 1);
	p += sizeof begin - 1;
	for (size_t at = 0; at < n; at += 48) {
		p += EVP_EncodeBlock((unsigned char *)p, der + at,
				     (int)(n - at < 48 ? n - at : 48));
		*p++ = '\n';
	}
	memcpy(p, end, sizeof end - 1);
	p += sizeof end - 1;
	memcpy(p, ca->cert_pem, clen + 1);
	return out;
}

int pki__serial_set(X509 *x, char serial[33])
{
	uint8_t rnd[16];
	BIGNUM *bn = NULL;
	int ok;

	/* 128 random bits; DER adds a zero byte when the top bit is set. */
	do {
		if (RAND_bytes(rnd, sizeof rnd) != 1)
			return -1;
	} while (rnd[0] == 0 && rnd[1] == 0);
	hex_encode(rnd, sizeof rnd, serial);
	ok = (bn = BN_bin2bn(rnd, sizeof rnd, NULL)) != NULL &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

enum pki_status pki_issue(struct pki_ca *ca, const struct pki_issue_req *req, struct pki_cert *out,
			  char *why, size_t whylen)
{
	const struct pki_profile *prof = pki_profile_find(ca, req->profile);
	enum pki_status st = PKI_ERR_INTERNAL;
	struct pki_csr *csr = NULL;
	const struct pki_csr *csr_view = NULL;
	X509 *x = NULL;
	EVP_PKEY *key;
	unsigned char *der = NULL;
	int n;
	time_t now = time(NULL);
	long long not_after;
	const char *cn;

	memset(out, 0, sizeof *out);
	say(why, whylen, "internal error");
	if (prof == NULL) {
		say(why, whylen, "no such certificate profile: %.64s",
		    req->profile ? req->profile : "(none)");
		return PKI_ERR_PROFILE;
	}
	if (req->sans == NULL || req->nsans == 0) {
		say(why, whylen, "a certificate needs at least one subject alternative name");
		return PKI_ERR_SAN;
	}
	if (req->csr != NULL && req->csr->parsed != NULL) {
		/* Parsed and verified by pki_csr_inspect(); the caller's to free. */
		if ((key = req->csr->parsed->key) == NULL)
			goto out;
		csr_view = req->csr->parsed;
	} else if ((csr = pki__csr_parse(req->csr_der, req->csr_len)) == NULL) {
		say(why, whylen, "the CSR is not a DER PKCS#10 request");
		st = PKI_ERR_CSR;
		goto out;
	} else if (!pki__csr_verify(csr) || (key = csr->key) == NULL) {
		say(why, whylen, "the CSR's signature does not verify with its key");
		st = PKI_ERR_SIGNATURE;
		goto out;
	}
	if (csr_view == NULL)
		csr_view = csr;
	if ((pki__key_classify(key, out->key_type, sizeof out->key_type) & prof->keys) == 0) {
		say(why, whylen, "key type %s is not allowed by this profile", out->key_type);
		st = PKI_ERR_KEY_TYPE;
		goto out;
	}
	not_after = (long long)now + prof->lifetime;
	if (req->not_after != 0 && req->not_after < not_after)
		not_after = req->not_after;
	if (not_after <= (long long)now) {
		say(why, whylen, "the requested notAfter is in the past");
		st = PKI_ERR_PROFILE;
		goto out;
	}
	cn = cn_pick(req);
	if ((x = X509_new()) == NULL || pki__serial_set(x, out->serial) != 0 ||
	    !X509_set_version(x, 2) || !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), now - PKI_BACKDATE) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) ||
	    !pubkey_copy(x, csr_view, key))
		goto out;
	/* Never outlive the intermediate. */
	if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->cert)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)))
		goto out;
	if (cn != NULL && !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
						      (const unsigned char *)cn, -1, -1, 0))
		goto out;
	if (!sans_add(x, req, cn == NULL, out->sans_text, sizeof out->sans_text, why, whylen)) {
		st = PKI_ERR_SAN;
		goto out;
	}
	if (!extensions_add(ca, prof, x) || pki_sign_cert(ca->signer, x) != 0 ||
	    (n = i2d_X509(x, &der)) <= 0 ||
	    (out->chain_pem = chain_make(ca, der, (size_t)n)) == NULL ||
	    (out->der = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(out->der, der, (size_t)n);
	out->der_len = (size_t)n;
	out->not_before = (long long)now - PKI_BACKDATE;
	struct tm tm;
	out->not_after = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 ? (long long)timegm(&tm)
									  : not_after;
	st = PKI_OK;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
out:
	OPENSSL_free(der);
	X509_free(x);
	pki__csr_free(csr);
	if (st != PKI_OK) {
		char reason[256];
		snprintf(reason, sizeof reason, "%s", why ? why : "");
		pki_cert_free(out);
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "%s", reason);
	}
	return st;
}

void pki_cert_free(struct pki_cert *c)
{
	if (c == NULL)
		return;
	free(c->der);
	free(c->chain_pem);
	memset(c, 0, sizeof *c);
}

int pki_serial_canonical(const char *in, char out[33])
{
	size_t n = in ? strlen(in) : 0;

	if (n == 0 || n > 32)
		return -1;
	memset(out, '0', 32 - n);
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)in[i]))
			return -1;
		out[32 - n + i] = (char)tolower((unsigned char)in[i]);
	}
	out[32] = '\0';
	return 0;
}
