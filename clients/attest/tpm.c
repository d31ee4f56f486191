/* The TPM side of device-attest-01 through tpm2-tss ESYS (see attest.h).
 * Not tpm2-tools: bookworm's tpm2_certify always qualifies with 00ff55aa,
 * and device-attest-01 needs SHA-256(key authorization) there. Transient
 * objects: the AK, the signing key and, briefly, the SRK (swtpm has room
 * for three and no resource manager). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include "clients/attest/attest.h"
#include "clients/attest/dps_tpm.h"

struct oa_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *ctx;
	ESYS_TR ek, ak, key;
	TPM2B_PUBLIC ek_pub, ak_pub, key_pub;
	TPM2B_PRIVATE key_priv; /* the signing key's blob, for oa_tpm_key_save */
};

void oa_buf_free(struct oa_buf *b)
{
	free(b->b);
	b->b = NULL;
	b->n = 0;
}

static int fail(char *err, const char *what, TSS2_RC rc)
{
	snprintf(err, OA_ERR_MAX, "%s: 0x%x", what, rc);
	return -1;
}

static int dup_into(struct oa_buf *out, const void *b, size_t n, char *err)
{
	out->n = 0;
	if ((out->b = malloc(n ? n : 1)) == NULL) {
		snprintf(err, OA_ERR_MAX, "out of memory");
		return -1;
	}
	memcpy(out->b, b, n);
	out->n = n;
	return 0;
}

struct oa_tpm *oa_tpm_open(const char *tcti, char *err)
{
	struct oa_tpm *t = calloc(1, sizeof *t);
	TSS2_RC rc;

	if (t == NULL) {
		snprintf(err, OA_ERR_MAX, "out of memory");
		return NULL;
	}
	t->ek = t->ak = t->key = ESYS_TR_NONE;
	if ((rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti)) != TSS2_RC_SUCCESS) {
		fail(err, "cannot open the TPM (tcti)", rc);
		free(t);
		return NULL;
	}
	if ((rc = Esys_Initialize(&t->ctx, t->tcti, NULL)) != TSS2_RC_SUCCESS) {
		fail(err, "Esys_Initialize", rc);
		Tss2_TctiLdr_Finalize(&t->tcti);
		free(t);
		return NULL;
	}
	return t;
}

int oa_tpm_flush_transient(struct oa_tpm *t, char *err)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TSS2_RC rc;
	int n = 0;

	/* TPM2_TRANSIENT_FIRST, spelled out: its macro shifts an int into the
	 * sign bit (UBSan). */
	const UINT32 first = 0x80000000u;

	rc = Esys_GetCapability(t->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
				first, TPM2_MAX_CAP_HANDLES, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "GetCapability(handles)", rc);
	for (UINT32 i = 0; i < cap->data.handles.count; i++) {
		ESYS_TR h = ESYS_TR_NONE;
		if (Esys_TR_FromTPMPublic(t->ctx, cap->data.handles.handle[i], ESYS_TR_NONE,
					  ESYS_TR_NONE, ESYS_TR_NONE, &h) == TSS2_RC_SUCCESS &&
		    Esys_FlushContext(t->ctx, h) == TSS2_RC_SUCCESS)
			n++;
	}
	Esys_Free(cap);
	t->ak = t->key = ESYS_TR_NONE;
	return n;
}

void oa_tpm_close(struct oa_tpm *t)
{
	if (t == NULL)
		return;
	if (t->ak != ESYS_TR_NONE)
		Esys_FlushContext(t->ctx, t->ak);
	if (t->key != ESYS_TR_NONE)
		Esys_FlushContext(t->ctx, t->key);
	Esys_Finalize(&t->ctx);
	Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
}

ESYS_CONTEXT *oa_tpm_esys(struct oa_tpm *t)
{
	return t->ctx;
}

static int marshal_public(const TPM2B_PUBLIC *p, struct oa_buf *out, char *err)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;
	TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(p, buf, sizeof buf, &off);

	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "marshalling a public area", rc);
	return dup_into(out, buf, off, err);
}

/* The EK certificate from NV, in chunks the TPM accepts; owner auth first,
 * then the index's own (empty) auth. */
static int nv_read(struct oa_tpm *t, uint32_t index, struct oa_buf *out, char *err)
{
	ESYS_TR nv = ESYS_TR_NONE;
	TPM2B_NV_PUBLIC *np = NULL;
	uint16_t size, off = 0;
	TSS2_RC rc;

	out->b = NULL;
	out->n = 0;
	if (index == 0)
		return 0; /* not asked for */
	if (Esys_TR_FromTPMPublic(t->ctx, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) !=
	    TSS2_RC_SUCCESS)
		return 0; /* no certificate: the enrollment may pin the EK */
	if ((rc = Esys_NV_ReadPublic(t->ctx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &np,
				     NULL)) != TSS2_RC_SUCCESS)
		return fail(err, "NV_ReadPublic", rc);
	size = np->nvPublic.dataSize;
	Esys_Free(np);
	if ((out->b = malloc(size ? size : 1)) == NULL)
		return fail(err, "out of memory", 0);
	while (off < size) {
		TPM2B_MAX_NV_BUFFER *d = NULL;
		uint16_t n = size - off > 512 ? 512 : size - off;
		rc = Esys_NV_Read(t->ctx, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				  ESYS_TR_NONE, n, off, &d);
		if (rc != TSS2_RC_SUCCESS)
			rc = Esys_NV_Read(t->ctx, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					  ESYS_TR_NONE, n, off, &d);
		if (rc != TSS2_RC_SUCCESS || d->size != n) {
			Esys_Free(d);
			oa_buf_free(out);
			return fail(err, "NV_Read of the EK certificate", rc);
		}
		memcpy(out->b + off, d->buffer, n);
		off += n;
		Esys_Free(d);
	}
	out->n = size;
	return 0;
}

int oa_tpm_ek(struct oa_tpm *t, uint32_t ek_handle, uint32_t cert_nv, struct oa_buf *pub,
	      struct oa_buf *cert, char *err)
{
	TPM2B_PUBLIC *p = NULL;
	TSS2_RC rc;

	rc = Esys_TR_FromTPMPublic(t->ctx, ek_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   &t->ek);
	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "no EK at that handle", rc);
	if ((rc = Esys_ReadPublic(t->ctx, t->ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p, NULL,
				  NULL)) != TSS2_RC_SUCCESS)
		return fail(err, "ReadPublic of the EK", rc);
	t->ek_pub = *p;
	Esys_Free(p);
	if (marshal_public(&t->ek_pub, pub, err) != 0)
		return -1;
	if (nv_read(t, cert_nv, cert, err) != 0) {
		oa_buf_free(pub);
		return -1;
	}
	return 0;
}

/* A key template: restricted (AK) or not (the signing key). */
static TPM2B_PUBLIC key_template(bool ecc, bool restricted)
{
	TPM2B_PUBLIC p;

	memset(&p, 0, sizeof p);
	p.publicArea.nameAlg = TPM2_ALG_SHA256;
	p.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
					TPMA_OBJECT_SIGN_ENCRYPT |
					(restricted ? TPMA_OBJECT_RESTRICTED : 0);
	if (ecc) {
		TPMS_ECC_PARMS *e = &p.publicArea.parameters.eccDetail;
		p.publicArea.type = TPM2_ALG_ECC;
		e->symmetric.algorithm = TPM2_ALG_NULL;
		e->scheme.scheme = restricted ? TPM2_ALG_ECDSA : TPM2_ALG_NULL;
		e->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		e->curveID = TPM2_ECC_NIST_P256;
		e->kdf.scheme = TPM2_ALG_NULL;
	} else {
		TPMS_RSA_PARMS *r = &p.publicArea.parameters.rsaDetail;
		p.publicArea.type = TPM2_ALG_RSA;
		r->symmetric.algorithm = TPM2_ALG_NULL;
		r->scheme.scheme = restricted ? TPM2_ALG_RSASSA : TPM2_ALG_NULL;
		r->scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		r->keyBits = 2048;
	}
	return p;
}

static int create_primary(struct oa_tpm *t, const TPM2B_PUBLIC *tmpl, ESYS_TR *h, TPM2B_PUBLIC *pub,
			  char *err)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TPM2B_PUBLIC *out = NULL;
	TSS2_RC rc;

	memset(&sens, 0, sizeof sens);
	rc = Esys_CreatePrimary(t->ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				ESYS_TR_NONE, &sens, tmpl, &outside, &pcrs, h, &out, NULL, NULL,
				NULL);
	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "CreatePrimary", rc);
	if (pub != NULL)
		*pub = *out;
	Esys_Free(out);
	return 0;
}

int oa_tpm_ak_create(struct oa_tpm *t, bool ecc, struct oa_buf *pub, char *err)
{
	TPM2B_PUBLIC tmpl = key_template(ecc, true);

	if (create_primary(t, &tmpl, &t->ak, &t->ak_pub, err) != 0)
		return -1;
	return marshal_public(&t->ak_pub, pub, err);
}

int oa_tpm_activate(struct oa_tpm *t, const struct oa_buf *blob, const struct oa_buf *enc,
		    struct oa_buf *secret, char *err)
{
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET es;
	TPM2B_DIGEST *out = NULL;
	ESYS_TR sess = ESYS_TR_PASSWORD;
	size_t off = 0;
	TSS2_RC rc;

	memset(&id, 0, sizeof id);
	memset(&es, 0, sizeof es);
	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob->b, blob->n, &off, &id) != 0 || off != blob->n)
		return fail(err, "credentialBlob is no TPM2B_ID_OBJECT", 0);
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc->b, enc->n, &off, &es) != 0 ||
	    off != enc->n)
		return fail(err, "encryptedSecret is no TPM2B_ENCRYPTED_SECRET", 0);
	/* An EK without userWithAuth (the TCG default template) is used under
	 * PolicySecret(TPM_RH_ENDORSEMENT). */
	if (!(t->ek_pub.publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
		TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
		rc = Esys_StartAuthSession(t->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					   ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym,
					   TPM2_ALG_SHA256, &sess);
		if (rc != TSS2_RC_SUCCESS)
			return fail(err, "StartAuthSession", rc);
		rc = Esys_PolicySecret(t->ctx, ESYS_TR_RH_ENDORSEMENT, sess, ESYS_TR_PASSWORD,
				       ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
		if (rc != TSS2_RC_SUCCESS) {
			Esys_FlushContext(t->ctx, sess);
			return fail(err, "PolicySecret(endorsement)", rc);
		}
	}
	rc = Esys_ActivateCredential(t->ctx, t->ak, t->ek, ESYS_TR_PASSWORD, sess, ESYS_TR_NONE,
				     &id, &es, &out);
	if (sess != ESYS_TR_PASSWORD)
		Esys_FlushContext(t->ctx, sess);
	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "ActivateCredential", rc);
	rc = (TSS2_RC)dup_into(secret, out->buffer, out->size, err);
	Esys_Free(out);
	return (int)rc;
}

/* The SRK: the TCG's ECC P-256 storage key template, a primary in the
 * owner hierarchy (the same key each time), loaded into *srk. */
static int srk_create(struct oa_tpm *t, ESYS_TR *srk, char *err)
{
	TPM2B_PUBLIC tmpl;

	memset(&tmpl, 0, sizeof tmpl);
	tmpl.publicArea.type = TPM2_ALG_ECC;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					   TPMA_OBJECT_SENSITIVEDATAORIGIN |
					   TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
					   TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA;
	tmpl.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	tmpl.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
	tmpl.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	tmpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	tmpl.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	tmpl.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	return create_primary(t, &tmpl, srk, NULL, err);
}

void oa_tpm_key_flush(struct oa_tpm *t)
{
	if (t->key != ESYS_TR_NONE)
		Esys_FlushContext(t->ctx, t->key);
	t->key = ESYS_TR_NONE;
}

int oa_tpm_key_create(struct oa_tpm *t, bool ecc, char *err)
{
	TPM2B_PUBLIC tmpl = key_template(ecc, false), *pub = NULL;
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TPM2B_PRIVATE *priv = NULL;
	ESYS_TR srk = ESYS_TR_NONE;
	TSS2_RC rc;

	/* One signing key at a time: swtpm holds three transient objects. */
	oa_tpm_key_flush(t);
	if (srk_create(t, &srk, err) != 0)
		return -1;
	memset(&sens, 0, sizeof sens);
	rc = Esys_Create(t->ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
			 &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
	if (rc == TSS2_RC_SUCCESS) {
		rc = Esys_Load(t->ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub,
			       &t->key);
		if (rc == TSS2_RC_SUCCESS) {
			t->key_pub = *pub;
			t->key_priv = *priv;
		}
	}
	Esys_Free(priv);
	Esys_Free(pub);
	Esys_FlushContext(t->ctx, srk);
	return rc == TSS2_RC_SUCCESS ? 0 : fail(err, "creating the key under the SRK", rc);
}

/* dir/name into path; -1 when it does not fit. */
static int key_path(char *path, size_t size, const char *dir, const char *name)
{
	int n = snprintf(path, size, "%s/%s", dir, name);

	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Writes n bytes to path, mode 0600, through a temporary file renamed
 * over it (a crash leaves the old file or the new, never half). */
static int write_private(const char *path, const uint8_t *b, size_t n, char *err)
{
	char tmp[4096 + 8];
	int fd, ok;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return fail(err, "path too long", 0);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, OA_ERR_MAX, "cannot create %.200s", tmp);
		return -1;
	}
	ok = fchmod(fd, 0600) == 0 && write(fd, b, n) == (ssize_t)n && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		snprintf(err, OA_ERR_MAX, "cannot write %.200s", path);
		return -1;
	}
	return 0;
}

int oa_tpm_key_save(struct oa_tpm *t, const char *dir, char *err)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE)];
	char path[4096];
	size_t off = 0;

	err[0] = '\0';
	if (t->key == ESYS_TR_NONE || t->key_priv.size == 0)
		return fail(err, "no TPM key to save", 0);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, OA_ERR_MAX, "cannot create %.200s", dir);
		return -1;
	}
	if (key_path(path, sizeof path, dir, "tls.pub") != 0 ||
	    Tss2_MU_TPM2B_PUBLIC_Marshal(&t->key_pub, buf, sizeof buf, &off) != TSS2_RC_SUCCESS ||
	    write_private(path, buf, off, err) != 0)
		return err[0] ? -1 : fail(err, "saving the key's public area", 0);
	off = 0;
	if (key_path(path, sizeof path, dir, "tls.priv") != 0 ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&t->key_priv, buf, sizeof buf, &off) != TSS2_RC_SUCCESS ||
	    write_private(path, buf, off, err) != 0)
		return err[0] ? -1 : fail(err, "saving the key's private area", 0);
	return 0;
}

/* Reads at most max bytes of dir/name into buf; the length, or -1. */
static long read_small(const char *dir, const char *name, uint8_t *buf, size_t max, char *err)
{
	char path[4096];
	FILE *f;
	size_t n;

	if (key_path(path, sizeof path, dir, name) != 0 || (f = fopen(path, "rb")) == NULL) {
		snprintf(err, OA_ERR_MAX, "cannot read %.200s/%.20s", dir, name);
		return -1;
	}
	n = fread(buf, 1, max, f);
	fclose(f);
	return (long)n;
}

int oa_tpm_key_load(struct oa_tpm *t, const char *dir, char *err)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE)];
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	ESYS_TR srk = ESYS_TR_NONE;
	size_t off = 0;
	long n;
	TSS2_RC rc;

	memset(&pub, 0, sizeof pub);
	memset(&priv, 0, sizeof priv);
	oa_tpm_key_flush(t);
	if ((n = read_small(dir, "tls.pub", buf, sizeof buf, err)) < 0)
		return -1;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, (size_t)n, &off, &pub) != TSS2_RC_SUCCESS ||
	    off != (size_t)n)
		return fail(err, "tls.pub is no TPM2B_PUBLIC", 0);
	off = 0;
	if ((n = read_small(dir, "tls.priv", buf, sizeof buf, err)) < 0)
		return -1;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, (size_t)n, &off, &priv) != TSS2_RC_SUCCESS ||
	    off != (size_t)n)
		return fail(err, "tls.priv is no TPM2B_PRIVATE", 0);
	if (srk_create(t, &srk, err) != 0)
		return -1;
	rc = Esys_Load(t->ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
		       &t->key);
	Esys_FlushContext(t->ctx, srk);
	if (rc != TSS2_RC_SUCCESS) {
		t->key = ESYS_TR_NONE;
		return fail(err, "loading the saved key (another TPM, or a new SRK?)", rc);
	}
	t->key_pub = pub;
	t->key_priv = priv;
	return 0;
}

EVP_PKEY *oa_tpm_key_pkey(struct oa_tpm *t, char *err)
{
	const TPMT_PUBLIC *p = &t->key_pub.publicArea;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint8_t point[1 + 2 * 66];

	if (bld == NULL)
		goto out;
	if (p->type == TPM2_ALG_RSA) {
		uint32_t exp =
			p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
		n = BN_bin2bn(p->unique.rsa.buffer, p->unique.rsa.size, NULL);
		e = BN_new();
		if (n == NULL || e == NULL || !BN_set_word(e, exp) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		size_t xl = p->unique.ecc.x.size, yl = p->unique.ecc.y.size;
		if (xl != 32 || yl != 32)
			goto out;
		point[0] = 0x04;
		memcpy(point + 1, p->unique.ecc.x.buffer, xl);
		memcpy(point + 1 + xl, p->unique.ecc.y.buffer, yl);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
						      1 + xl + yl))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL || ctx == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
out:
	if (pk == NULL)
		snprintf(err, OA_ERR_MAX, "the TPM key cannot be read into OpenSSL");
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return pk;
}

int oa_tpm_certify(struct oa_tpm *t, const uint8_t *qd, size_t qdlen, struct oa_buf *cert_info,
		   struct oa_buf *sig, struct oa_buf *pub_area, long *alg, char *err)
{
	TPM2B_DATA q = {0};
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
	TPM2B_ATTEST *info = NULL;
	TPMT_SIGNATURE *s = NULL;
	uint8_t buf[sizeof(TPMT_PUBLIC) + sizeof(TPMT_SIGNATURE)];
	size_t off = 0;
	TSS2_RC rc;

	if (qdlen > sizeof q.buffer)
		return fail(err, "qualifying data too long", 0);
	q.size = (UINT16)qdlen;
	memcpy(q.buffer, qd, qdlen);
	rc = Esys_Certify(t->ctx, t->key, t->ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			  &q, &scheme, &info, &s);
	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "Certify", rc);
	*alg = s->sigAlg == TPM2_ALG_ECDSA ? -7 : s->sigAlg == TPM2_ALG_RSAPSS ? -37 : -257;
	rc = Tss2_MU_TPMT_SIGNATURE_Marshal(s, buf, sizeof buf, &off);
	if (rc == TSS2_RC_SUCCESS && dup_into(sig, buf, off, err) == 0 &&
	    dup_into(cert_info, info->attestationData, info->size, err) == 0) {
		off = 0;
		rc = Tss2_MU_TPMT_PUBLIC_Marshal(&t->key_pub.publicArea, buf, sizeof buf, &off);
		if (rc == TSS2_RC_SUCCESS && dup_into(pub_area, buf, off, err) == 0) {
			Esys_Free(info);
			Esys_Free(s);
			return 0;
		}
	}
	Esys_Free(info);
	Esys_Free(s);
	oa_buf_free(sig);
	oa_buf_free(cert_info);
	return fail(err, "marshalling the certification", rc);
}

int oa_tpm_sign_digest(struct oa_tpm *t, int md, bool pss, const uint8_t *digest, size_t len,
		       struct oa_buf *sig, char *err)
{
	bool ecc = t->key_pub.publicArea.type == TPM2_ALG_ECC;
	TPM2B_DIGEST d = {.size = (UINT16)len};
	TPMT_SIG_SCHEME scheme = {.scheme = ecc	  ? TPM2_ALG_ECDSA
					    : pss ? TPM2_ALG_RSAPSS
						  : TPM2_ALG_RSASSA};
	TPMT_TK_HASHCHECK ticket = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
	TPMT_SIGNATURE *s = NULL;
	TSS2_RC rc;
	int ret = -1;

	if (t->key == ESYS_TR_NONE)
		return fail(err, "no TPM key loaded", 0);
	switch (md) {
	case 256: scheme.details.any.hashAlg = TPM2_ALG_SHA256; break;
	case 384: scheme.details.any.hashAlg = TPM2_ALG_SHA384; break;
	case 512: scheme.details.any.hashAlg = TPM2_ALG_SHA512; break;
	default: return fail(err, "unsupported digest", 0);
	}
	if (len != (size_t)md / 8 || (ecc && pss))
		return fail(err, "digest length or scheme does not fit the key", 0);
	memcpy(d.buffer, digest, len);
	rc = Esys_Sign(t->ctx, t->key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme,
		       &ticket, &s);
	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "Sign", rc);
	if (ecc) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(s->signature.ecdsa.signatureR.buffer,
				      s->signature.ecdsa.signatureR.size, NULL);
		BIGNUM *ss = BN_bin2bn(s->signature.ecdsa.signatureS.buffer,
				       s->signature.ecdsa.signatureS.size, NULL);
		unsigned char *der = NULL;
		int dlen;
		if (es == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(es, r, ss)) {
			BN_free(r);
			BN_free(ss);
		} else if ((dlen = i2d_ECDSA_SIG(es, &der)) > 0) {
			ret = dup_into(sig, der, (size_t)dlen, err);
			OPENSSL_free(der);
		}
		ECDSA_SIG_free(es);
	} else {
		/* rsassa and rsapss share one layout */
		ret = dup_into(sig, s->signature.rsassa.sig.buffer, s->signature.rsassa.sig.size,
			       err);
	}
	Esys_Free(s);
	if (ret != 0)
		snprintf(err, OA_ERR_MAX, "cannot encode the TPM's signature");
	return ret;
}

int oa_tpm_sign(struct oa_tpm *t, const uint8_t digest[32], struct oa_buf *sig, char *err)
{
	return oa_tpm_sign_digest(t, 256, false, digest, 32, sig, err);
}

bool oa_tpm_key_is_ecc(const struct oa_tpm *t)
{
	return t->key_pub.publicArea.type == TPM2_ALG_ECC;
}

void oa_quote_free(struct oa_quote *q)
{
	oa_buf_free(&q->ak_pub);
	oa_buf_free(&q->quoted);
	oa_buf_free(&q->sig);
	oa_buf_free(&q->event_log);
}

int oa_tpm_quote(struct oa_tpm *t, const uint8_t *qd, size_t qdlen, uint32_t mask,
		 struct oa_quote *q, char *err)
{
	TPML_PCR_SELECTION sel = {.count = 1};
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
	TPM2B_DATA data = {0};
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *s = NULL;
	uint8_t buf[sizeof(TPMT_SIGNATURE)];
	size_t off = 0;
	TSS2_RC rc;

	memset(q, 0, sizeof *q);
	q->mask = mask;
	if (qdlen > sizeof data.buffer)
		return fail(err, "qualifying data too long", 0);
	data.size = (UINT16)qdlen;
	memcpy(data.buffer, qd, qdlen);
	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	/* PCR_Read answers at most 8 digests a call: read in rounds. */
	for (unsigned done = 0; done != mask;) {
		TPML_PCR_SELECTION want = sel, *got_sel = NULL;
		TPML_DIGEST *vals = NULL;
		uint32_t left = mask & ~done, got = 0;
		want.pcrSelections[0].pcrSelect[0] = left & 0xff;
		want.pcrSelections[0].pcrSelect[1] = (left >> 8) & 0xff;
		want.pcrSelections[0].pcrSelect[2] = (left >> 16) & 0xff;
		rc = Esys_PCR_Read(t->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &want, NULL,
				   &got_sel, &vals);
		if (rc != TSS2_RC_SUCCESS)
			return fail(err, "PCR_Read", rc);
		for (unsigned i = 0; i < 24; i++)
			if (got_sel->count == 1 &&
			    (got_sel->pcrSelections[0].pcrSelect[i / 8] >> (i % 8)) & 1)
				got |= 1u << i;
		for (unsigned i = 0, k = 0; i < 24; i++)
			if ((got >> i) & 1 && k < vals->count && vals->digests[k].size == 32)
				memcpy(q->values[i], vals->digests[k++].buffer, 32);
		Esys_Free(got_sel);
		Esys_Free(vals);
		if (got == 0)
			return fail(err, "PCR_Read: no SHA-256 bank", 0);
		done |= got;
	}
	sel.pcrSelections[0].pcrSelect[0] = mask & 0xff;
	sel.pcrSelections[0].pcrSelect[1] = (mask >> 8) & 0xff;
	sel.pcrSelections[0].pcrSelect[2] = (mask >> 16) & 0xff;
	rc = Esys_Quote(t->ctx, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data, &scheme,
			&sel, &quoted, &s);
	if (rc != TSS2_RC_SUCCESS)
		return fail(err, "Quote", rc);
	rc = Tss2_MU_TPMT_SIGNATURE_Marshal(s, buf, sizeof buf, &off);
	if (rc != TSS2_RC_SUCCESS || dup_into(&q->sig, buf, off, err) != 0 ||
	    dup_into(&q->quoted, quoted->attestationData, quoted->size, err) != 0 ||
	    marshal_public(&t->ak_pub, &q->ak_pub, err) != 0) {
		Esys_Free(quoted);
		Esys_Free(s);
		oa_quote_free(q);
		return fail(err, "marshalling the quote", rc);
	}
	Esys_Free(quoted);
	Esys_Free(s);
	return 0;
}
