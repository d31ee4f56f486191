/* CSRs and certificates brought back: parsing a CSR whole, naming its key
 * type, pki_csr_inspect() (what a CSR asks for, for ACME finalize) and
 * pki_cert_inspect() (is this one of ours, for revokeCert and ARI). */
#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hex.h"
#include "pki/pki_int.h"

/* The leaf key's type name and bit, or 0 when no profile could allow it. */
unsigned pki__key_classify(EVP_PKEY *key, char *name, size_t len)
{
	char group[32] = "";
	size_t glen = 0;

	if (EVP_PKEY_is_a(key, "RSA")) {
		int bits = EVP_PKEY_get_bits(key);
		snprintf(name, len, "rsa%d", bits);
		return bits >= 2048 && bits <= 4096 ? PKI_KEY_RSA : 0;
	}
	if (EVP_PKEY_is_a(key, "ED25519")) {
		snprintf(name, len, "ed25519");
		return PKI_KEY_ED25519;
	}
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &glen) == 1) {
		if (strcmp(group, "prime256v1") == 0) {
			snprintf(name, len, "p256");
			return PKI_KEY_P256;
		}
		if (strcmp(group, "secp384r1") == 0) {
			snprintf(name, len, "p384");
			return PKI_KEY_P384;
		}
		snprintf(name, len, "ec-%s", group);
		return 0;
	}
	snprintf(name, len, "%s",
		 EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?");
	return 0;
}

static void say(char *why, size_t len, const char *msg)
{
	if (why != NULL && len > 0)
		snprintf(why, len, "%s", msg);
}

/* Appends a copy of name to *list unless it is there (case-insensitive):
 * 0, -1 out of memory, -2 for an empty name or one holding a NUL. */
static int name_add(char ***list, size_t *n, const char *name, size_t len)
{
	char **grown, *copy;

	for (size_t i = 0; i < *n; i++)
		if (strlen((*list)[i]) == len && strncasecmp((*list)[i], name, len) == 0)
			return 0;
	if (len == 0 || memchr(name, '\0', len) != NULL)
		return -2; /* no name: refused, as the CA would be made to sign a cut one */
	if ((copy = strndup(name, len)) == NULL)
		return -1;
	for (char *p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	if ((grown = realloc(*list, (*n + 1) * sizeof *grown)) == NULL) {
		free(copy);
		return -1;
	}
	grown[(*n)++] = copy;
	*list = grown;
	return 0;
}

/* An IP address's octets (4 or 16) as canonical text. */
static int ip_add(struct pki_csr_info *out, const unsigned char *ip, int len)
{
	char text[INET6_ADDRSTRLEN];

	if ((len != 4 && len != 16) ||
	    inet_ntop(len == 4 ? AF_INET : AF_INET6, ip, text, sizeof text) == NULL)
		return -1;
	return name_add(&out->ips, &out->nips, text, strlen(text));
}

/* The subject CN: an IP literal joins the IPs, anything else the names:
 * 0, -1 out of memory, -2 for a CN that is empty, not text or holds a NUL. */
static int cn_add(struct pki_csr_info *out, const struct pki_csr *csr)
{
	X509_NAME *name = pki__csr_subject(csr);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0) {
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8, v), rc = -2;
		/* an IP parse stops at a NUL: "192.0.2.1\0.evil" is no IP */
		bool text = n > 0 && memchr(utf8, '\0', (size_t)n) == NULL;
		ASN1_OCTET_STRING *ip = text ? a2i_IPADDRESS((char *)utf8) : NULL;
		if (ip != NULL)
			rc = ip_add(out, ASN1_STRING_get0_data(ip), ASN1_STRING_length(ip));
		else if (text)
			rc = name_add(&out->dns, &out->ndns, (char *)utf8, (size_t)n);
		ASN1_OCTET_STRING_free(ip);
		OPENSSL_free(utf8);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The SAN extension's names: DNS and IP only. 0, -1 for out of memory,
 * -2 for another kind of name. */
static int sans_read(struct pki_csr_info *out, const struct pki_csr *csr)
{
	STACK_OF(X509_EXTENSION) *exts = pki__csr_extensions(csr);
	GENERAL_NAMES *names = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
	int rc = 0;

	for (int i = 0; rc == 0 && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_DNS)
			rc = name_add(&out->dns, &out->ndns,
				      (const char *)ASN1_STRING_get0_data(g->d.dNSName),
				      (size_t)ASN1_STRING_length(g->d.dNSName));
		else if (g->type == GEN_IPADD)
			rc = ip_add(out, ASN1_STRING_get0_data(g->d.iPAddress),
				    ASN1_STRING_length(g->d.iPAddress)) == 0
				     ? 0
				     : -2;
		else
			rc = -2;
	}
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

/* Whether EC keys a and b are one: the same group and point. 1, 0, or -1
 * when a parameter cannot be read. */
static int ec_same(const EVP_PKEY *a, const EVP_PKEY *b)
{
	char ga[32], gb[32];
	unsigned char pa[1 + 2 * 66], pb[1 + 2 * 66];
	size_t la = 0, lb = 0;

	if (EVP_PKEY_get_utf8_string_param(a, OSSL_PKEY_PARAM_GROUP_NAME, ga, sizeof ga, NULL) !=
		    1 ||
	    EVP_PKEY_get_utf8_string_param(b, OSSL_PKEY_PARAM_GROUP_NAME, gb, sizeof gb, NULL) !=
		    1 ||
	    EVP_PKEY_get_octet_string_param(a, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pa, sizeof pa,
					    &la) != 1 ||
	    EVP_PKEY_get_octet_string_param(b, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pb, sizeof pb,
					    &lb) != 1)
		return -1;
	return strcmp(ga, gb) == 0 && la == lb && memcmp(pa, pb, la) == 0;
}

/* Keys of different types are different; two EC keys are compared by
 * group and point. EVP_PKEY_eq() exports a key to compare it, which cost
 * about 1 M instructions per finalize; it stays for other types and for
 * parameters that cannot be read. */
int pki_csr_key_equals(const struct pki_csr_info *csr, const EVP_PKEY *key)
{
	const EVP_PKEY *mine = csr != NULL && csr->parsed != NULL ? csr->parsed->key : NULL;
	int same;

	if (mine == NULL || key == NULL)
		return 0;
	if (EVP_PKEY_get_base_id(mine) != EVP_PKEY_get_base_id(key))
		return 0;
	if (EVP_PKEY_get_base_id(mine) == EVP_PKEY_EC && (same = ec_same(mine, key)) >= 0)
		return same;
	return EVP_PKEY_eq(mine, key) == 1;
}

int pki_csr_key_is_ec_point(const struct pki_csr_info *csr, const char *group,
			    const unsigned char *point, size_t len)
{
	const X509_ALGOR *alg;
	const unsigned char *mine;
	int mlen;

	if (csr == NULL || csr->parsed == NULL || group == NULL || point == NULL || len == 0)
		return -1;
	if (!pki__csr_spki(csr->parsed, &alg, &mine, &mlen))
		return -1;
	if (OBJ_obj2nid(alg->algorithm) != NID_X9_62_id_ecPublicKey)
		return 0; /* not an EC key at all */
	if (alg->parameter == NULL || alg->parameter->type != V_ASN1_OBJECT || mlen < 1 ||
	    mine[0] != 0x04)
		return -1;
	if (strcmp(OBJ_nid2sn(OBJ_obj2nid(alg->parameter->value.object)), group) != 0)
		return 0;
	return (size_t)mlen == len && memcmp(mine, point, len) == 0;
}

void pki_csr_info_free(struct pki_csr_info *info)
{
	if (info == NULL)
		return;
	for (size_t i = 0; i < info->ndns; i++)
		free(info->dns[i]);
	for (size_t i = 0; i < info->nips; i++)
		free(info->ips[i]);
	free(info->dns);
	free(info->ips);
	free(info->spki);
	pki__csr_free(info->parsed);
	memset(info, 0, sizeof *info);
}

enum pki_status pki_csr_inspect(const uint8_t *der, size_t len, struct pki_csr_info *out, char *why,
				size_t whylen)
{
	struct pki_csr *csr = pki__csr_parse(der, len);
	unsigned char *spki = NULL;
	enum pki_status st = PKI_ERR_INTERNAL;
	int n, r;

	memset(out, 0, sizeof *out);
	say(why, whylen, "internal error");
	if (csr == NULL) {
		say(why, whylen, "the CSR is not a DER PKCS#10 request");
		return PKI_ERR_CSR;
	}
	if (!pki__csr_verify(csr)) {
		say(why, whylen, "the CSR's signature does not verify with its key");
		st = PKI_ERR_SIGNATURE;
		goto out;
	}
	pki__key_classify(csr->key, out->key_type, sizeof out->key_type);
	if ((r = sans_read(out, csr)) != 0) {
		if (r == -2) {
			say(why, whylen, "the CSR names something other than DNS names and IPs");
			st = PKI_ERR_SAN;
		}
		goto out;
	}
	if ((r = cn_add(out, csr)) != 0) {
		if (r == -2) {
			say(why, whylen, "the CSR's common name is neither a DNS name nor an IP");
			st = PKI_ERR_SAN;
		}
		goto out;
	}
	if ((n = pki__csr_spki_der(csr, &spki)) <= 0 || (out->spki = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(out->spki, spki, (size_t)n);
	out->spki_len = (size_t)n;
	out->parsed = csr; /* owned by out from here */
	csr = NULL;
	st = PKI_OK;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
out:
	OPENSSL_free(spki);
	pki__csr_free(csr);
	if (st != PKI_OK) {
		char keep[256];
		snprintf(keep, sizeof keep, "%s", why ? why : "");
		pki_csr_info_free(out);
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "%s", keep);
	}
	return st;
}

int pki_cert_inspect(const struct pki_ca *ca, const uint8_t *der, size_t len, char serial[33],
		     uint8_t **spki, size_t *spki_len)
{
	const unsigned char *p = der;
	X509 *x = der && len > 0 && len <= 64 * 1024 ? d2i_X509(NULL, &p, (long)len) : NULL;
	const ASN1_INTEGER *sn;
	unsigned char *pub = NULL;
	uint8_t raw[16];
	int n, rc = -1;

	if (spki != NULL)
		*spki = NULL;
	if (x == NULL || p != der + len || X509_check_issued(ca->cert, x) != X509_V_OK ||
	    X509_verify(x, X509_get0_pubkey(ca->cert)) != 1)
		goto out;
	/* Our serials are 128 bits; DER may add a leading zero byte. */
	sn = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	n = bn && !BN_is_negative(bn) ? BN_bn2binpad(bn, raw, sizeof raw) : -1;
	BN_free(bn);
	if (n != (int)sizeof raw)
		goto out;
	hex_encode(raw, sizeof raw, serial);
	if (spki != NULL) {
		if ((n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &pub)) <= 0 ||
		    (*spki = malloc((size_t)n)) == NULL)
			goto out;
		memcpy(*spki, pub, (size_t)n);
		*spki_len = (size_t)n;
	}
	rc = 0;
out:
	OPENSSL_free(pub);
	X509_free(x);
	return rc;
}

int pki_ca_key_id(const struct pki_ca *ca, uint8_t *out, size_t *len)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->cert);
	int n = ski ? ASN1_STRING_length(ski) : -1;

	if (n <= 0 || (size_t)n > *len)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(ski), (size_t)n);
	*len = (size_t)n;
	return 0;
}
