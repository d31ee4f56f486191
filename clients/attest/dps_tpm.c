/* The DPS TPM flow, device side, through tpm2-tss ESYS (see dps_tpm.h).
 * swtpm's socket TCTI has no resource manager and room for three
 * transient objects: each call creates what it needs (an EK or SRK
 * primary when none is persistent, the loaded HMAC key) and flushes it
 * before it returns, whatever happened. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_sys.h>
#include <unistd.h>

#include "clients/attest/dps_tpm.h"

/* TPM_RC_RETRY, YIELDED and TESTING: ESYS resubmits a few times at once;
 * past that, wait a little (10, 20 ... 320 ms) and try again. */
static bool again(TSS2_RC rc, int *n)
{
	if ((rc != TPM2_RC_RETRY && rc != TPM2_RC_YIELDED && rc != TPM2_RC_TESTING) || *n >= 6)
		return false;
	usleep(10000u << *n);
	(*n)++;
	return true;
}
#define TPM_CALL(rc, call)                                                                         \
	do {                                                                                       \
		int tries_ = 0;                                                                    \
		do                                                                                 \
			(rc) = (call);                                                             \
		while (again((rc), &tries_));                                                      \
	} while (0)

static int fail(char *err, const char *what, TSS2_RC rc)
{
	snprintf(err, OA_ERR_MAX, "%s: 0x%x", what, rc);
	return -1;
}

static void flush(ESYS_CONTEXT *ctx, ESYS_TR *h)
{
	if (*h != ESYS_TR_NONE && *h != ESYS_TR_PASSWORD)
		Esys_FlushContext(ctx, *h);
	*h = ESYS_TR_NONE;
}

static int dup_into(struct oa_buf *out, const void *b, size_t n, char *err)
{
	if ((out->b = malloc(n ? n : 1)) == NULL) {
		out->n = 0;
		snprintf(err, OA_ERR_MAX, "out of memory");
		return -1;
	}
	memcpy(out->b, b, n);
	out->n = n;
	return 0;
}

/* Flushes the loaded sessions of the TPM's handle range first (HMAC or
 * policy); raw SYS calls, as ESYS knows none of them. */
static int flush_sessions(ESYS_CONTEXT *ctx, TPM2_HANDLE first)
{
	TSS2_SYS_CONTEXT *sys = NULL;
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TSS2_RC rc;
	int n = 0;

	TPM_CALL(rc,
		 Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
				    first, TPM2_MAX_CAP_HANDLES, &more, &cap));
	if (rc != TSS2_RC_SUCCESS || Esys_GetSysContext(ctx, &sys) != TSS2_RC_SUCCESS) {
		Esys_Free(cap);
		return 0;
	}
	for (UINT32 i = 0; i < cap->data.handles.count; i++) {
		TPM2_HANDLE h = cap->data.handles.handle[i];
		if ((h >> 24) != (first >> 24))
			continue;
		if (Tss2_Sys_FlushContext(sys, h) == TSS2_RC_SUCCESS)
			n++;
	}
	Esys_Free(cap);
	return n;
}

struct oa_tpm *oa_tpm_open_clean(const char *tcti, int *flushed, char *err)
{
	struct oa_tpm *t = oa_tpm_open(tcti, err);
	char ignored[OA_ERR_MAX];
	int n = 0, objects;

	if (t != NULL) {
		/* Objects through tpm.c; then HMAC and policy sessions. */
		objects = oa_tpm_flush_transient(t, ignored);
		n = (objects > 0 ? objects : 0) + flush_sessions(oa_tpm_esys(t), 0x02000000u) +
		    flush_sessions(oa_tpm_esys(t), 0x03000000u);
	}
	if (flushed != NULL)
		*flushed = n;
	return t;
}

/* TCG EK Credential Profile, policy A (PolicySecret(TPM_RH_ENDORSEMENT)). */
static const uint8_t policy_a[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8,
				     0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
				     0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
				     0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

/* The TCG templates: the EK (Credential Profile L-1 RSA-2048 / L-2 P-256)
 * and the SRK (Provisioning Guidance, RSA-2048 with AES-128-CFB). */
static TPM2B_PUBLIC template(bool ek, bool ecc)
{
	TPM2B_PUBLIC p;
	TPMT_PUBLIC *a = &p.publicArea;

	memset(&p, 0, sizeof p);
	a->nameAlg = TPM2_ALG_SHA256;
	a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
			      TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED |
			      TPMA_OBJECT_DECRYPT;
	if (ek) {
		a->objectAttributes |= TPMA_OBJECT_ADMINWITHPOLICY;
		a->authPolicy.size = sizeof policy_a;
		memcpy(a->authPolicy.buffer, policy_a, sizeof policy_a);
	} else {
		a->objectAttributes |= TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;
	}
	if (ecc) {
		TPMS_ECC_PARMS *e = &a->parameters.eccDetail;
		a->type = TPM2_ALG_ECC;
		e->symmetric.algorithm = TPM2_ALG_AES;
		e->symmetric.keyBits.aes = 128;
		e->symmetric.mode.aes = TPM2_ALG_CFB;
		e->scheme.scheme = TPM2_ALG_NULL;
		e->curveID = TPM2_ECC_NIST_P256;
		e->kdf.scheme = TPM2_ALG_NULL;
		a->unique.ecc.x.size = a->unique.ecc.y.size = ek ? 32 : 0;
	} else {
		TPMS_RSA_PARMS *r = &a->parameters.rsaDetail;
		a->type = TPM2_ALG_RSA;
		r->symmetric.algorithm = TPM2_ALG_AES;
		r->symmetric.keyBits.aes = 128;
		r->symmetric.mode.aes = TPM2_ALG_CFB;
		r->scheme.scheme = TPM2_ALG_NULL;
		r->keyBits = 2048;
		a->unique.rsa.size = ek ? 256 : 0;
	}
	return p;
}

/* Whether the persistent handle h holds a key (asked first, so that ESYS
 * logs no error for the usual absent SRK). */
static bool persistent(ESYS_CONTEXT *ctx, TPM2_HANDLE h)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TSS2_RC rc;
	bool yes;

	TPM_CALL(rc, Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					TPM2_CAP_HANDLES, h, 1, &more, &cap));
	yes = rc == TSS2_RC_SUCCESS && cap->data.handles.count == 1 &&
	      cap->data.handles.handle[0] == h;
	Esys_Free(cap);
	return yes;
}

/* A key by its persistent handle, or created from its template as a
 * primary (*created says so: the caller flushes it). */
static int get_key(ESYS_CONTEXT *ctx, TPM2_HANDLE handle, ESYS_TR hierarchy, bool ek, bool ecc,
		   ESYS_TR *h, bool *created, TPM2B_PUBLIC *pub, char *err)
{
	TPM2B_PUBLIC *out = NULL;
	TSS2_RC rc;

	*h = ESYS_TR_NONE;
	*created = false;
	rc = TSS2_ESYS_RC_BAD_VALUE;
	if (persistent(ctx, handle))
		TPM_CALL(rc, Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE,
						   ESYS_TR_NONE, h));
	if (rc == TSS2_RC_SUCCESS) {
		TPM_CALL(rc, Esys_ReadPublic(ctx, *h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					     &out, NULL, NULL));
		if (rc != TSS2_RC_SUCCESS) {
			Esys_TR_Close(ctx, h);
			*h = ESYS_TR_NONE;
			return fail(err, "ReadPublic of a persistent key", rc);
		}
	} else {
		TPM2B_PUBLIC tmpl = template(ek, ecc);
		TPM2B_SENSITIVE_CREATE sens;
		TPM2B_DATA outside = {0};
		TPML_PCR_SELECTION pcrs = {0};
		memset(&sens, 0, sizeof sens);
		*h = ESYS_TR_NONE;
		TPM_CALL(rc, Esys_CreatePrimary(ctx, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE,
						ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, h,
						&out, NULL, NULL, NULL));
		if (rc != TSS2_RC_SUCCESS)
			return fail(err, ek ? "CreatePrimary (EK)" : "CreatePrimary (SRK)", rc);
		*created = true;
	}
	*pub = *out;
	Esys_Free(out);
	return 0;
}

/* Releases what get_key gave: a created primary is flushed, a persistent
 * key's ESYS handle closed. */
static void put_key(ESYS_CONTEXT *ctx, ESYS_TR *h, bool created)
{
	if (*h == ESYS_TR_NONE)
		return;
	if (created)
		flush(ctx, h);
	else
		Esys_TR_Close(ctx, h);
	*h = ESYS_TR_NONE;
}

/* The EK: RSA unless the TPM has none (no persistent RSA EK and the RSA
 * template refused), then ECC P-256. */
static int get_ek(ESYS_CONTEXT *ctx, ESYS_TR *h, bool *created, TPM2B_PUBLIC *pub, char *err)
{
	if (get_key(ctx, OA_EK_RSA_HANDLE, ESYS_TR_RH_ENDORSEMENT, true, false, h, created, pub,
		    err) == 0)
		return 0;
	return get_key(ctx, OA_EK_ECC_HANDLE, ESYS_TR_RH_ENDORSEMENT, true, true, h, created, pub,
		       err);
}

static int get_srk(ESYS_CONTEXT *ctx, ESYS_TR *h, bool *created, TPM2B_PUBLIC *pub, char *err)
{
	return get_key(ctx, OA_SRK_HANDLE, ESYS_TR_RH_OWNER, false, false, h, created, pub, err);
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

int oa_tpm_dps_keys(struct oa_tpm *t, struct oa_buf *ek_pub, struct oa_buf *srk_pub,
		    struct oa_buf *ek_cert, char *err)
{
	ESYS_CONTEXT *ctx = oa_tpm_esys(t);
	ESYS_TR ek = ESYS_TR_NONE, srk = ESYS_TR_NONE;
	bool ek_created = false, srk_created = false;
	TPM2B_PUBLIC ekp, srkp;
	int rc = -1;

	memset(ek_pub, 0, sizeof *ek_pub);
	memset(srk_pub, 0, sizeof *srk_pub);
	memset(ek_cert, 0, sizeof *ek_cert);
	if (get_ek(ctx, &ek, &ek_created, &ekp, err) != 0)
		goto out;
	put_key(ctx, &ek, ek_created); /* swtpm: room for three objects */
	if (get_srk(ctx, &srk, &srk_created, &srkp, err) != 0)
		goto out;
	if (marshal_public(&ekp, ek_pub, err) != 0 || marshal_public(&srkp, srk_pub, err) != 0)
		goto out;
	if (!ek_created) {
		/* tpm.c's EK read, for its certificate; the same key, checked. */
		bool ecc = ekp.publicArea.type == TPM2_ALG_ECC;
		struct oa_buf again = {0};
		char ignored[OA_ERR_MAX];
		if (oa_tpm_ek(t, ecc ? OA_EK_ECC_HANDLE : OA_EK_RSA_HANDLE,
			      ecc ? 0x01c0000au : 0x01c00002u, &again, ek_cert, ignored) == 0 &&
		    (again.n != ek_pub->n || memcmp(again.b, ek_pub->b, again.n) != 0))
			oa_buf_free(ek_cert);
		oa_buf_free(&again);
	}
	rc = 0;
out:
	put_key(ctx, &ek, ek_created);
	put_key(ctx, &srk, srk_created);
	if (rc != 0) {
		oa_buf_free(ek_pub);
		oa_buf_free(srk_pub);
	}
	return rc;
}

void oa_dps_registration_id(const struct oa_buf *ek_pub, char out[64])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t d[SHA256_DIGEST_LENGTH];
	size_t o = 0;
	unsigned acc = 0, bits = 0;

	SHA256(ek_pub->b, ek_pub->n, d);
	for (size_t i = 0; i < sizeof d; i++) {
		acc = (acc << 8) | d[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0'; /* 52 characters */
}

/* The next TPM2B of the blob: its bytes, size included, at *off. */
static int next_tpm2b(const uint8_t *b, size_t n, size_t *off, const uint8_t **p, size_t *len)
{
	if (n - *off < 2)
		return -1;
	size_t sz = ((size_t)b[*off] << 8) | b[*off + 1];
	if (n - *off - 2 < sz)
		return -1;
	*p = b + *off;
	*len = 2 + sz;
	*off += 2 + sz;
	return 0;
}

int oa_dps_authkey_parse(const uint8_t *blob, size_t n, struct oa_dps_authkey *k, char *err)
{
	const uint8_t *part[6];
	size_t len[6], off = 0, o[5] = {0};

	memset(k, 0, sizeof *k);
	for (int i = 0; i < 6; i++)
		if (next_tpm2b(blob, n, &off, &part[i], &len[i]) != 0) {
			snprintf(err, OA_ERR_MAX, "the authenticationKey is truncated");
			return -1;
		}
	if (off != n || len[5] != 2) {
		snprintf(err, OA_ERR_MAX, "the authenticationKey is not six TPM2Bs");
		return -1;
	}
	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(part[0], len[0], &o[0], &k->cred) != 0 ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(part[1], len[1], &o[1], &k->secret) != 0 ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(part[2], len[2], &o[2], &k->dup) != 0 ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(part[3], len[3], &o[3], &k->seed) != 0 ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(part[4], len[4], &o[4], &k->pub) != 0 ||
	    o[4] != len[4] || k->pub.publicArea.type != TPM2_ALG_KEYEDHASH) {
		snprintf(err, OA_ERR_MAX, "the authenticationKey's parts do not parse");
		memset(k, 0, sizeof *k);
		return -1;
	}
	k->pub_raw = part[4];
	k->pub_len = len[4];
	return 0;
}

int oa_tpm_dps_import(struct oa_tpm *t, const uint8_t *blob, size_t n, struct oa_buf *key_pub,
		      struct oa_buf *key_priv, char *err)
{
	ESYS_CONTEXT *ctx = oa_tpm_esys(t);
	struct oa_dps_authkey k;
	TPM2B_PUBLIC ekp, srkp;
	TPM2B_DIGEST *inner = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_DATA enc_key;
	TPMT_SYM_DEF_OBJECT sym = {
		.algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};
	ESYS_TR ek = ESYS_TR_NONE, srk = ESYS_TR_NONE, sess = ESYS_TR_NONE;
	bool ek_created = false, srk_created = false;
	uint8_t buf[sizeof(TPM2B_PRIVATE)];
	size_t o = 0;
	TSS2_RC trc;
	int rc = -1;

	memset(key_pub, 0, sizeof *key_pub);
	memset(key_priv, 0, sizeof *key_priv);
	memset(&enc_key, 0, sizeof enc_key);
	if (oa_dps_authkey_parse(blob, n, &k, err) != 0)
		return -1;
	if (get_ek(ctx, &ek, &ek_created, &ekp, err) != 0 ||
	    get_srk(ctx, &srk, &srk_created, &srkp, err) != 0)
		goto out;
	/* The TCG EK has no userWithAuth: PolicySecret(TPM_RH_ENDORSEMENT). */
	if (!(ekp.publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
		TPMT_SYM_DEF none = {.algorithm = TPM2_ALG_NULL};
		TPM_CALL(trc, Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
						    ESYS_TR_NONE, ESYS_TR_NONE, NULL,
						    TPM2_SE_POLICY, &none, TPM2_ALG_SHA256, &sess));
		if (trc != TSS2_RC_SUCCESS) {
			sess = ESYS_TR_NONE;
			fail(err, "StartAuthSession", trc);
			goto out;
		}
		TPM_CALL(trc, Esys_PolicySecret(ctx, ESYS_TR_RH_ENDORSEMENT, sess, ESYS_TR_PASSWORD,
						ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0,
						NULL, NULL));
		if (trc != TSS2_RC_SUCCESS) {
			fail(err, "PolicySecret(endorsement)", trc);
			goto out;
		}
	}
	/* The credential names the SRK: it is the object "activated". */
	TPM_CALL(trc, Esys_ActivateCredential(ctx, srk, ek, ESYS_TR_PASSWORD,
					      sess == ESYS_TR_NONE ? ESYS_TR_PASSWORD : sess,
					      ESYS_TR_NONE, &k.cred, &k.secret, &inner));
	flush(ctx, &sess); /* a policy session ends with its command anyway */
	if (trc != TSS2_RC_SUCCESS) {
		fail(err, "ActivateCredential (not this TPM's credential?)", trc);
		goto out;
	}
	put_key(ctx, &ek, ek_created);
	if (inner->size > sizeof enc_key.buffer) {
		snprintf(err, OA_ERR_MAX, "ActivateCredential gave an oversized key");
		goto out;
	}
	enc_key.size = inner->size;
	memcpy(enc_key.buffer, inner->buffer, inner->size);
	TPM_CALL(trc, Esys_Import(ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &enc_key,
				  &k.pub, &k.dup, &k.seed, &sym, &priv));
	if (trc != TSS2_RC_SUCCESS) {
		fail(err, "Import under the SRK", trc);
		goto out;
	}
	trc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof buf, &o);
	if (trc != TSS2_RC_SUCCESS) {
		fail(err, "marshalling the imported key", trc);
		goto out;
	}
	if (dup_into(key_priv, buf, o, err) != 0 ||
	    dup_into(key_pub, k.pub_raw, k.pub_len, err) != 0)
		goto out;
	rc = 0;
out:
	flush(ctx, &sess);
	put_key(ctx, &ek, ek_created);
	put_key(ctx, &srk, srk_created);
	if (inner != NULL)
		OPENSSL_cleanse(inner->buffer, inner->size);
	OPENSSL_cleanse(enc_key.buffer, sizeof enc_key.buffer);
	Esys_Free(inner);
	Esys_Free(priv);
	if (rc != 0) {
		oa_buf_free(key_pub);
		oa_buf_free(key_priv);
	}
	return rc;
}

int oa_tpm_dps_hmac(struct oa_tpm *t, const struct oa_buf *key_pub, const struct oa_buf *key_priv,
		    const uint8_t *msg, size_t n, uint8_t mac[32], char *err)
{
	ESYS_CONTEXT *ctx = oa_tpm_esys(t);
	ESYS_TR srk = ESYS_TR_NONE, key = ESYS_TR_NONE;
	bool srk_created = false;
	TPM2B_PUBLIC srkp, pub;
	TPM2B_PRIVATE priv;
	TPM2B_MAX_BUFFER data;
	TPM2B_DIGEST *out = NULL;
	TPMI_ALG_HASH hash = TPM2_ALG_SHA256;
	size_t o1 = 0, o2 = 0;
	TSS2_RC trc;
	int rc = -1;

	memset(&pub, 0, sizeof pub);
	memset(&priv, 0, sizeof priv);
	if (n > sizeof data.buffer) {
		snprintf(err, OA_ERR_MAX, "the message is too long for TPM2_HMAC");
		return -1;
	}
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(key_pub->b, key_pub->n, &o1, &pub) != 0 ||
	    o1 != key_pub->n ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(key_priv->b, key_priv->n, &o2, &priv) != 0 ||
	    o2 != key_priv->n) {
		snprintf(err, OA_ERR_MAX, "the stored TPM key does not parse");
		return -1;
	}
	if (pub.publicArea.type == TPM2_ALG_KEYEDHASH &&
	    pub.publicArea.parameters.keyedHashDetail.scheme.scheme == TPM2_ALG_HMAC)
		hash = pub.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg;
	data.size = (UINT16)n;
	memcpy(data.buffer, msg, n);
	if (get_srk(ctx, &srk, &srk_created, &srkp, err) != 0)
		goto out;
	TPM_CALL(trc, Esys_Load(ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
				&key));
	if (trc != TSS2_RC_SUCCESS) {
		key = ESYS_TR_NONE;
		fail(err, "Load of the stored key under the SRK", trc);
		goto out;
	}
	put_key(ctx, &srk, srk_created);
	TPM_CALL(trc, Esys_HMAC(ctx, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data, hash,
				&out));
	if (trc != TSS2_RC_SUCCESS) {
		fail(err, "HMAC", trc);
		goto out;
	}
	if (out->size != 32) {
		snprintf(err, OA_ERR_MAX, "HMAC: not SHA-256");
		goto out;
	}
	memcpy(mac, out->buffer, 32);
	rc = 0;
out:
	flush(ctx, &key);
	put_key(ctx, &srk, srk_created);
	Esys_Free(out);
	return rc;
}
