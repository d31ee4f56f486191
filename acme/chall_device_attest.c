/* device-attest-01 (draft-ietf-acme-device-attest), the WebAuthn "tpm"
 * attestation format only: the client answers the challenge with
 * {"attObj": base64url(CBOR)} where the CBOR is
 *   {"fmt": "tpm", "attStmt": {"ver": "2.0", "alg": COSE alg, "x5c": [AK
 *    certificate DER, intermediates...], "sig": TPMT_SIGNATURE, "certInfo":
 *    TPMS_ATTEST, "pubArea": TPMT_PUBLIC}}
 * (no authData). What holds when this returns 0:
 *  - x5c[0] chains to one of t->att_roots (Orchard's attestation CA, or a
 *    configured external attestation root) and carries EKU 2.23.133.8.3;
 *  - the order's identifier is in that AK certificate's SAN, byte for byte
 *    (never skipped: an AK certificate without it fails);
 *  - sig verifies over certInfo with the AK certificate's key, under the
 *    scheme alg names;
 *  - certInfo is a TPM-generated TPMS_ATTEST of type ATTEST_CERTIFY whose
 *    extraData is SHA-256(key authorization) and whose certified name is the
 *    Name of pubArea;
 *  - the key in pubArea is fixedTPM, fixedParent, sensitiveDataOrigin,
 *    sign and not restricted (an unrestricted key could sign a CSR but
 *    nothing the TPM would call its own).
 * The attested key (SPKI DER) and the AK certificate's serial are handed
 * back: the caller records the key for finalize and checks revocation and
 * the enrollment in its store. CPU only, no network. */
#include <cbor.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include <jansson.h>

#include "acme/order.h"
#include "verifier/ak.h"
#include "verifier/eventlog.h"
#include "verifier/pcr_policy.h"
#include "verifier/quote.h"
#include "verifier/tpm_alg.h"
#include "verifier/tpm_public.h"
#include "verifier/tpm_sig.h"

#define ATT_OBJ_MAX (128 * 1024)
#define X5C_MAX 4
/* A measured boot's event log is 20-70 KiB: it fits in the attObj. */
#define EVENTLOG_MAX ATT_OBJ_MAX

/* COSE algorithms the tpm format names (RFC 9053, RFC 8812). */
#define COSE_ES256 (-7)
#define COSE_ES384 (-35)
#define COSE_PS256 (-37)
#define COSE_RS256 (-257)

#define bad(e, ...) acme_fail(e, ERR_ACME_BAD_ATTESTATION_STATEMENT, __VA_ARGS__)

/* The value of text key name in map m, or NULL. */
static cbor_item_t *map_get(cbor_item_t *m, const char *name)
{
	struct cbor_pair *p = cbor_map_handle(m);
	size_t n = cbor_map_size(m), len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (cbor_isa_string(p[i].key) && cbor_string_is_definite(p[i].key) &&
		    cbor_string_length(p[i].key) == len &&
		    memcmp(cbor_string_handle(p[i].key), name, len) == 0)
			return p[i].value;
	return NULL;
}

static bool bytes_of(cbor_item_t *it, const uint8_t **b, size_t *n)
{
	if (it == NULL || !cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
		return false;
	*b = cbor_bytestring_handle(it);
	*n = cbor_bytestring_length(it);
	return *n > 0;
}

static bool text_is(cbor_item_t *it, const char *want)
{
	return it != NULL && cbor_isa_string(it) && cbor_string_is_definite(it) &&
	       cbor_string_length(it) == strlen(want) &&
	       memcmp(cbor_string_handle(it), want, strlen(want)) == 0;
}

/* The COSE algorithm in it (a negative integer), or 0. */
static long cose_alg(cbor_item_t *it)
{
	if (it == NULL || !cbor_isa_negint(it) || cbor_int_get_width(it) == CBOR_INT_64)
		return 0;
	return -1 - (long)cbor_get_int(it);
}

/* Reads one DER length at p (short or long form, up to 3 bytes). */
static size_t der_len(const uint8_t *p, size_t n, size_t *hdr)
{
	if (n < 1)
		return (size_t)-1;
	if (p[0] < 0x80) {
		*hdr = 1;
		return p[0];
	}
	size_t k = p[0] & 0x7f, len = 0;
	if (k == 0 || k > 3 || n < 1 + k)
		return (size_t)-1;
	for (size_t i = 0; i < k; i++)
		len = len << 8 | p[1 + i];
	*hdr = 1 + k;
	return len;
}

/* Next TLV of tag in [*p, end): its content; false when it is another tag. */
static bool der_next(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **v,
		     size_t *vlen)
{
	size_t hdr = 0, len;

	if (*p >= end || **p != tag)
		return false;
	len = der_len(*p + 1, (size_t)(end - *p - 1), &hdr);
	if (len == (size_t)-1 || len > (size_t)(end - *p - 1 - hdr))
		return false;
	*v = *p + 1 + hdr;
	*vlen = len;
	*p = *v + len;
	return true;
}

/* Whether oid (content octets) prints as the dotted text want. */
static bool oid_is(const uint8_t *oid, size_t n, const char *want)
{
	char buf[128];
	const uint8_t *p = oid;
	uint8_t der[130];
	ASN1_OBJECT *o;
	bool ok;

	if (n + 2 > sizeof der || n > 127)
		return false;
	der[0] = 0x06;
	der[1] = (uint8_t)n;
	memcpy(der + 2, oid, n);
	p = der;
	if ((o = d2i_ASN1_OBJECT(NULL, &p, (long)n + 2)) == NULL)
		return false;
	ok = OBJ_obj2txt(buf, sizeof buf, o, 1) > 0 && strcmp(buf, want) == 0;
	ASN1_OBJECT_free(o);
	return ok;
}

/* Whether otherName value v (the [0] EXPLICIT content: a SEQUENCE) is the
 * identifier: PermanentIdentifier { UTF8String id, OID assigner OPTIONAL }
 * or HardwareModuleName { OID hwType, OCTET STRING hwSerialNum }. */
static bool othername_matches(const ASN1_TYPE *v, const struct acme_ident *id)
{
	const uint8_t *p, *end, *a, *b;
	size_t alen = 0, blen = 0, idlen;
	const char *slash = strchr(id->value, '/');

	if (v == NULL || v->type != V_ASN1_SEQUENCE)
		return false;
	p = ASN1_STRING_get0_data(v->value.sequence);
	end = p + ASN1_STRING_length(v->value.sequence);
	if (!der_next(&p, end, 0x30, &a, &alen) || p != end)
		return false;
	p = a;
	end = a + alen;
	idlen = slash ? (size_t)(slash - id->value) : strlen(id->value);
	if (id->type == ACME_ID_PERMID) {
		if (!der_next(&p, end, 0x0c, &a, &alen) || alen != idlen ||
		    memcmp(a, id->value, idlen) != 0)
			return false;
		if (slash == NULL)
			return p == end;
		return der_next(&p, end, 0x06, &b, &blen) && p == end && oid_is(b, blen, slash + 1);
	}
	return slash != NULL && der_next(&p, end, 0x06, &a, &alen) && oid_is(a, alen, slash + 1) &&
	       der_next(&p, end, 0x04, &b, &blen) && p == end && blen == idlen &&
	       memcmp(b, id->value, idlen) == 0;
}

/* Whether the AK certificate's SAN names the order's identifier. */
static bool ak_names(X509 *ak, const struct acme_ident *id)
{
	const char *want = id->type == ACME_ID_PERMID ? "1.3.6.1.5.5.7.8.3" : "1.3.6.1.5.5.7.8.4";
	GENERAL_NAMES *gens = X509_get_ext_d2i(ak, NID_subject_alt_name, NULL, NULL);
	char buf[64];
	bool found = false;

	for (int i = 0; i < sk_GENERAL_NAME_num(gens) && !found; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_OTHERNAME)
			continue;
		if (OBJ_obj2txt(buf, sizeof buf, g->d.otherName->type_id, 1) <= 0 ||
		    strcmp(buf, want) != 0)
			continue;
		found = othername_matches(g->d.otherName->value, id);
	}
	GENERAL_NAMES_free(gens);
	return found;
}

/* Whether x's DER encoding is der (i2d_X509 hands out the encoding it was
 * parsed from). */
static bool same_cert(const X509 *x, const uint8_t *der, size_t len)
{
	uint8_t *enc = NULL;
	int n = i2d_X509(x, &enc);
	bool same = n > 0 && (size_t)n == len && memcmp(enc, der, len) == 0;

	OPENSSL_free(enc);
	return same;
}

/* x5c[0] chains to t->att_roots through x5c[1..] (partial chains: the
 * attestation CA itself is a trust anchor, so a certificate from Orchard's
 * device intermediate under the same root does not pass) and is an AK
 * certificate. */
static int chain_check(X509 *ak, STACK_OF(X509) * inter, struct acme_chall_target *t,
		       struct acme_err *e)
{
	X509_STORE *roots = t->att_roots;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	EXTENDED_KEY_USAGE *eku;
	char buf[32];
	bool tcg = false;
	int ok;

	if (ctx == NULL || roots == NULL || X509_STORE_CTX_init(ctx, roots, ak, inter) != 1) {
		X509_STORE_CTX_free(ctx);
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no attestation roots");
	}
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok) {
		int err = X509_STORE_CTX_get_error(ctx);
		X509_STORE_CTX_free(ctx);
		return bad(e, "x5c does not chain to a trusted attestation CA: %s",
			   X509_verify_cert_error_string(err));
	}
	{
		/* Which anchor: Orchard's attestation CA, or an external root. */
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
		X509 *top = sk_X509_value(chain, sk_X509_num(chain) - 1);
		t->ak_external =
			t->att_own == NULL || top == NULL || X509_cmp(top, t->att_own) != 0;
	}
	X509_STORE_CTX_free(ctx);
	eku = X509_get_ext_d2i(ak, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku) && !tcg; i++)
		tcg = OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku, i), 1) > 0 &&
		      strcmp(buf, "2.23.133.8.3") == 0;
	EXTENDED_KEY_USAGE_free(eku);
	if (!tcg)
		return bad(e, "%s", "x5c[0] is no AK certificate (EKU 2.23.133.8.3)");
	return 0;
}

/* Whether alg names the scheme and hash of s. */
static bool alg_fits(long alg, const TPMT_SIGNATURE *s)
{
	uint16_t h = tpm_sig_hash(s);

	switch (alg) {
	case COSE_RS256: return s->sigAlg == TPM2_ALG_RSASSA && h == TPM2_ALG_SHA256;
	case COSE_PS256: return s->sigAlg == TPM2_ALG_RSAPSS && h == TPM2_ALG_SHA256;
	case COSE_ES256: return s->sigAlg == TPM2_ALG_ECDSA && h == TPM2_ALG_SHA256;
	case COSE_ES384: return s->sigAlg == TPM2_ALG_ECDSA && h == TPM2_ALG_SHA384;
	default: return false;
	}
}

/* sig over certInfo with the AK certificate's key. */
static int sig_check(X509 *ak, long alg, const uint8_t *sig, size_t siglen, const uint8_t *info,
		     size_t infolen, struct acme_err *e)
{
	EVP_PKEY *pk = X509_get0_pubkey(ak);
	TPMT_SIGNATURE s;
	TPMT_PUBLIC key;
	struct verr ve = {{0}, {0}};

	if (pk == NULL)
		return bad(e, "%s", "the AK certificate's key cannot be read");
	if (tpm_sig_parse(sig, siglen, &s, &ve) != 0)
		return bad(e, "sig is no TPMT_SIGNATURE: %s", ve.msg);
	if (!alg_fits(alg, &s))
		return bad(e, "%s", "alg does not name sig's scheme and hash");
	/* The AK's public area is not sent: its type is the certificate's,
	 * its scheme what sig names (checked against alg above). */
	memset(&key, 0, sizeof key);
	if (EVP_PKEY_base_id(pk) == EVP_PKEY_RSA) {
		key.type = TPM2_ALG_RSA;
		key.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	} else if (EVP_PKEY_base_id(pk) == EVP_PKEY_EC) {
		key.type = TPM2_ALG_ECC;
		key.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	} else {
		return bad(e, "%s", "the AK certificate's key is neither RSA nor ECC");
	}
	if (tpm_sig_verify(pk, NULL, &key, &s, info, infolen, &ve) != 0)
		return bad(e, "sig does not verify over certInfo with the AK: %s", ve.msg);
	return 0;
}

/* pubArea: a key that lives in the TPM and signs anything. */
static int pub_check(const uint8_t *b, size_t n, struct tpm_public *out, struct acme_err *e)
{
	uint8_t buf[2 + sizeof(TPMT_PUBLIC) + 64];
	struct verr ve = {{0}, {0}};
	TPMA_OBJECT a, need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
			      TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT;

	if (n > sizeof buf - 2 || n > 0xffff)
		return bad(e, "%s", "pubArea too long");
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, b, n);
	if (tpm_public_parse(buf, n + 2, out, &ve) != 0)
		return bad(e, "pubArea is no TPMT_PUBLIC: %s", ve.msg);
	a = out->pub.objectAttributes;
	if ((a & need) != need || (a & TPMA_OBJECT_RESTRICTED) || (a & TPMA_OBJECT_DECRYPT))
		return bad(e, "%s",
			   "the attested key must be fixedTPM, fixedParent, sensitiveDataOrigin, "
			   "sign, not restricted, not decrypt");
	return 0;
}

/* certInfo: ATTEST_CERTIFY of pub, qualified with SHA-256(key_authz). */
static int info_check(const uint8_t *b, size_t n, const struct tpm_public *pub,
		      const char *key_authz, struct acme_err *e)
{
	TPMS_ATTEST at;
	size_t off = 0;
	uint8_t md[32];
	unsigned int mdlen = 0;

	memset(&at, 0, sizeof at);
	if (Tss2_MU_TPMS_ATTEST_Unmarshal(b, n, &off, &at) != 0 || off != n)
		return bad(e, "%s", "certInfo is no TPMS_ATTEST");
	if (at.magic != TPM2_GENERATED_VALUE)
		return bad(e, "%s", "certInfo was not made by a TPM (magic)");
	if (at.type != TPM2_ST_ATTEST_CERTIFY)
		return bad(e, "%s", "certInfo is not of type ATTEST_CERTIFY");
	if (EVP_Digest(key_authz, strlen(key_authz), md, &mdlen, EVP_sha256(), NULL) != 1)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "digest failed");
	if (at.extraData.size != mdlen || CRYPTO_memcmp(at.extraData.buffer, md, mdlen) != 0)
		return bad(e, "%s", "certInfo's extraData is not SHA-256 of the key authorization");
	if (at.attested.certify.name.size != pub->name_len ||
	    memcmp(at.attested.certify.name.name, pub->name, pub->name_len) != 0)
		return bad(e, "%s", "certInfo certifies another key than pubArea");
	return 0;
}

/* The attested key as SPKI DER into t (its point checked on the curve). */
static int spki_out(const struct tpm_public *pub, struct acme_chall_target *t, struct acme_err *e)
{
	struct verr ve = {{0}, {0}};
	EVP_PKEY *pk = tpm_public_to_pkey(&pub->pub, &ve);

	if (pk == NULL)
		return bad(e, "pubArea's key is not usable: %s", ve.msg);
	EVP_PKEY_free(pk);
	if (tpm_public_spki(&pub->pub, &t->attested_spki, &t->attested_spki_len) != 0)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "cannot encode the key");
	return 0;
}

static int statement_check(cbor_item_t *st, struct acme_chall_target *t, struct acme_err *e)
{
	cbor_item_t *x5c = map_get(st, "x5c");
	const uint8_t *sig, *info, *area, *der;
	size_t siglen, infolen, arealen, derlen;
	long alg = cose_alg(map_get(st, "alg"));
	STACK_OF(X509) *inter = NULL;
	X509 *ak = NULL;
	struct tpm_public pub;
	int rc = -1;

	if (!text_is(map_get(st, "ver"), "2.0"))
		return bad(e, "%s", "attStmt.ver must be \"2.0\"");
	if (alg == 0)
		return bad(e, "%s", "attStmt.alg must be a COSE algorithm");
	if (!bytes_of(map_get(st, "sig"), &sig, &siglen) ||
	    !bytes_of(map_get(st, "certInfo"), &info, &infolen) ||
	    !bytes_of(map_get(st, "pubArea"), &area, &arealen))
		return bad(e, "%s", "attStmt needs byte strings sig, certInfo and pubArea");
	if (x5c == NULL || !cbor_isa_array(x5c) || cbor_array_size(x5c) < 1 ||
	    cbor_array_size(x5c) > X5C_MAX)
		return bad(e, "%s", "attStmt.x5c must be an array of 1 to 4 certificates");
	if ((inter = sk_X509_new_null()) == NULL)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
	for (size_t i = 0; i < cbor_array_size(x5c); i++) {
		const uint8_t *p;
		X509 *c;
		if (!bytes_of(cbor_array_handle(x5c)[i], &der, &derlen)) {
			bad(e, "%s", "x5c holds something else than certificates");
			goto out;
		}
		p = der;
		/* Orchard's own attestation CA, sent as x5c[1] by every device:
		 * the parsed anchor, where a parse cost more than the chain check. */
		if (i > 0 && t->att_own != NULL && same_cert(t->att_own, der, derlen) &&
		    X509_up_ref((X509 *)t->att_own) == 1) /* a reference: not a change */
			c = (X509 *)t->att_own;
		else if ((c = d2i_X509(NULL, &p, (long)derlen)) == NULL || p != der + derlen) {
			X509_free(c);
			bad(e, "%s", "x5c holds something that is no DER certificate");
			goto out;
		}
		if (i == 0)
			ak = c;
		else if (!sk_X509_push(inter, c)) {
			X509_free(c);
			acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
			goto out;
		}
	}
	if (chain_check(ak, inter, t, e) != 0)
		goto out;
	if (!ak_names(ak, t->ident)) {
		bad(e, "the AK certificate does not name %s", t->ident->value);
		goto out;
	}
	{
		unsigned char *spki = NULL;
		/* The certificate's own encoding (i2d_PUBKEY() of its key
		 * would build an encoder chain per call). */
		int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ak), &spki);
		if (len <= 0 || (t->ak_spki = malloc((size_t)len)) == NULL) {
			OPENSSL_free(spki);
			acme_fail(e, ERR_ACME_SERVER_INTERNAL, "cannot encode the AK's key");
			goto out;
		}
		memcpy(t->ak_spki, spki, (size_t)len);
		t->ak_spki_len = (size_t)len;
		/* For the quote gate's AK: the same key, not loaded again. */
		if ((t->ak_pkey = X509_get0_pubkey(ak)) != NULL && EVP_PKEY_up_ref(t->ak_pkey) != 1)
			t->ak_pkey = NULL;
		OPENSSL_free(spki);
	}
	if (sig_check(ak, alg, sig, siglen, info, infolen, e) != 0 ||
	    pub_check(area, arealen, &pub, e) != 0 ||
	    info_check(info, infolen, &pub, t->key_authz, e) != 0 || spki_out(&pub, t, e) != 0)
		goto out;
	{
		const ASN1_INTEGER *sn = X509_get0_serialNumber(ak);
		BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		size_t k = 0, len = hex ? strlen(hex) : 0;
		/* As pki_issue writes serials: 32 lower-case hex digits. */
		for (size_t i = len; i < 32 && k + 1 < sizeof t->ak_serial; i++)
			t->ak_serial[k++] = '0';
		for (size_t i = 0; hex && i < len && k + 1 < sizeof t->ak_serial; i++)
			t->ak_serial[k++] =
				(char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
		t->ak_serial[k] = '\0';
		OPENSSL_free(hex);
		BN_free(bn);
	}
	rc = 0;
out:
	X509_free(ak);
	sk_X509_pop_free(inter, X509_free);
	return rc;
}

static int device_attest_validate(const struct acme_chall_target *ct, struct acme_err *e)
{
	/* The outputs live in the target the caller owns. */
	struct acme_chall_target *t = (struct acme_chall_target *)ct;
	struct cbor_load_result res;
	cbor_item_t *root, *st;
	int rc;

	if (t->att_obj == NULL || t->att_obj_len == 0 || t->att_obj_len > ATT_OBJ_MAX)
		return bad(e, "%s",
			   "the answer needs {\"attObj\": base64url(CBOR)} of at most 128 KiB");
	root = cbor_load(t->att_obj, t->att_obj_len, &res);
	if (root == NULL || res.error.code != CBOR_ERR_NONE || res.read != t->att_obj_len) {
		if (root != NULL)
			cbor_decref(&root);
		return bad(e, "%s", "attObj is not one CBOR item");
	}
	if (!cbor_isa_map(root)) {
		cbor_decref(&root);
		return bad(e, "%s", "attObj is not a CBOR map");
	}
	if (text_is(map_get(root, "fmt"), "packed")) {
		cbor_decref(&root);
		/* packed is {alg, sig, x5c}: an AK signature over bytes the
		 * client chose. A TPM's AK signs any external data that does not
		 * start with TPM_GENERATED_VALUE, so such a signature cannot show
		 * that the key to certify lives in the TPM; only TPM2_Certify's
		 * certInfo can, and carrying it is the tpm format. */
		return bad(e, "%s",
			   "attObj.fmt \"packed\" is refused: it cannot prove the key is "
			   "TPM-resident; send the \"tpm\" format");
	}
	if (!text_is(map_get(root, "fmt"), "tpm")) {
		cbor_decref(&root);
		return bad(e, "%s", "attObj.fmt: only \"tpm\" is accepted");
	}
	st = map_get(root, "attStmt");
	if (st == NULL || !cbor_isa_map(st)) {
		cbor_decref(&root);
		return bad(e, "%s", "attObj.attStmt must be a map");
	}
	rc = statement_check(st, t, e);
	cbor_decref(&root);
	return rc;
}

const struct acme_chall_type acme_chall_device_attest = {
	"device-attest-01",
	ACME_ID_PERMID | ACME_ID_HWMOD,
	device_attest_validate,
	true,
};

/* The claimed PCR values: [[alg, index, value]...]. */
static int pcrs_read(cbor_item_t *list, struct pcr_set *set, struct acme_err *e)
{
	memset(set, 0, sizeof *set);
	if (list == NULL || !cbor_isa_array(list) || cbor_array_size(list) > PCR_COUNT * PCR_BANKS)
		return bad(e, "%s", "orchardQuote.pcrs must be an array of [alg, index, value]");
	for (size_t i = 0; i < cbor_array_size(list); i++) {
		cbor_item_t *it = cbor_array_handle(list)[i], **f;
		const uint8_t *v;
		size_t n;
		struct pcr_bank *b;
		uint64_t alg, idx;

		if (!cbor_isa_array(it) || cbor_array_size(it) != 3)
			return bad(e, "%s",
				   "orchardQuote.pcrs must be an array of [alg, index, value]");
		f = cbor_array_handle(it);
		if (!cbor_isa_uint(f[0]) || !cbor_isa_uint(f[1]) || !bytes_of(f[2], &v, &n))
			return bad(e, "%s",
				   "orchardQuote.pcrs must be an array of [alg, index, value]");
		alg = cbor_get_int(f[0]);
		idx = cbor_get_int(f[1]);
		if (alg > 0xffff || idx >= PCR_COUNT || n != tpm_alg_digest_size((uint16_t)alg) ||
		    (b = pcr_set_bank_add(set, (uint16_t)alg)) == NULL || (b->mask & (1u << idx)))
			return bad(e, "%s",
				   "orchardQuote.pcrs: an unknown bank, a PCR twice or a value "
				   "of the wrong size");
		b->mask |= 1u << idx;
		memcpy(b->v[idx], v, n);
	}
	return 0;
}

int acme_device_attest_quote(const struct acme_chall_target *t, const char *name,
			     const char *policy, json_t **verdict, struct acme_err *e)
{
	struct cbor_load_result res;
	cbor_item_t *root = cbor_load(t->att_obj, t->att_obj_len, &res), *q;
	const uint8_t *akpub, *msg, *sig, *elog;
	size_t akpub_len, msg_len, sig_len, elog_len, nf = 0;
	struct eventlog *log = NULL;
	cbor_item_t *el;
	struct verr ve = {{0}, {0}};
	struct pcr_policy_failure fails[8];
	struct pcr_set *set = calloc(1, sizeof *set);
	struct quote_result *qr = calloc(1, sizeof *qr);
	struct pcr_policy *pol = NULL;
	struct ak_key *ak = NULL;
	uint8_t nonce[32];
	json_t *list;
	int rc = -1;

	*verdict = json_pack("{s:s, s:b, s:[]}", "policy", name, "passed", 0, "failures");
	if (root == NULL || set == NULL || qr == NULL || *verdict == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "out of memory");
		goto out;
	}
	q = cbor_isa_map(root) ? map_get(root, "orchardQuote") : NULL;
	if (q == NULL || !cbor_isa_map(q)) {
		bad(e, "the enrollment's policy %s needs a quote: attObj.orchardQuote", name);
		goto out;
	}
	if (!bytes_of(map_get(q, "akPub"), &akpub, &akpub_len) ||
	    !bytes_of(map_get(q, "quoted"), &msg, &msg_len) ||
	    !bytes_of(map_get(q, "sig"), &sig, &sig_len)) {
		bad(e, "%s", "orchardQuote needs byte strings akPub, quoted and sig");
		goto out;
	}
	if (pcrs_read(map_get(q, "pcrs"), set, e) != 0)
		goto out;
	/* The quoting AK is the certified one (and a restricted key): its
	 * key is the certificate's, not built again. */
	if ((ak = ak_key_new_known(akpub, akpub_len, t->ak_spki, t->ak_spki_len, t->ak_pkey,
				   &ve)) == NULL) {
		if (strcmp(ve.code, "ak-other-key") == 0)
			bad(e, "%s", "orchardQuote.akPub is not the AK certificate's key");
		else
			bad(e, "orchardQuote.akPub: %s", ve.msg);
		goto out;
	}
	if (EVP_Digest(t->key_authz, strlen(t->key_authz), nonce, NULL, EVP_sha256(), NULL) != 1) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "digest failed");
		goto out;
	}
	struct quote_input in = {msg, msg_len, sig, sig_len, set, nonce, sizeof nonce, NULL, 0};
	if (quote_verify(ak, &in, qr, &ve) != 0) {
		bad(e, "the quote does not verify: %s", ve.msg);
		goto out;
	}
	if ((pol = pcr_policy_parse(policy, strlen(policy), &ve)) == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "policy %s is unreadable", name);
		goto out;
	}
	list = json_object_get(*verdict, "failures");
	/* The event log, when sent, must replay to the quoted PCRs whatever the
	 * policy: a log that lies is refused, not merely ignored. */
	if ((el = map_get(q, "eventLog")) != NULL) {
		if (!bytes_of(el, &elog, &elog_len) || elog_len > EVENTLOG_MAX) {
			bad(e, "orchardQuote.eventLog must be a byte string of 1 to %d bytes",
			    EVENTLOG_MAX);
			goto out;
		}
		if ((log = eventlog_parse(elog, elog_len, &ve)) == NULL ||
		    eventlog_check_quote(log, &qr->covered, &ve) != 0) {
			json_array_append_new(
				list, json_pack("{s:s, s:s}", "code", ve.code, "detail", ve.msg));
			bad(e, "the event log is refused (policy %s): %s", name, ve.msg);
			goto out;
		}
	}
	memset(fails, 0, sizeof fails);
	rc = pcr_policy_evaluate_report(pol, &qr->covered, log, fails, 8, &nf, &ve);
	for (size_t i = 0; i < nf && i < 8; i++)
		json_array_append_new(list, json_pack("{s:s?, s:i, s:s, s:s}", "bank",
						      tpm_alg_hash_name(fails[i].alg), "pcr",
						      (int)fails[i].pcr, "code", fails[i].code,
						      "detail", fails[i].detail));
	json_object_set_new(*verdict, "passed", json_boolean(rc == 0));
	if (rc != 0)
		bad(e, "the quote does not satisfy policy %s: %s", name,
		    nf ? fails[0].detail : ve.msg);
out:
	ak_key_free(ak);
	eventlog_free(log);
	pcr_policy_free(pol);
	free(set);
	free(qr);
	if (root != NULL)
		cbor_decref(&root);
	return rc;
}
