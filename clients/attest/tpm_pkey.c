/* The TPM-held TLS key as an OpenSSL 3 EVP_PKEY (oa_tpm_pkey, attest.h):
 * a small built-in provider, "orchard-tpm", with one key manager and one
 * digest-and-sign implementation per key type, whose signatures are
 * TPM2_Sign through the caller's own ESYS context (oa_tpm_sign_digest).
 *
 * Why a provider and not EC_KEY_METHOD/RSA_METHOD: those are deprecated
 * in OpenSSL 3, and RSA_METHOD only hands out an already padded block, so
 * RSA-PSS (which TLS 1.3 requires for RSA) would need a decrypt-capable
 * TPM key doing raw RSA; a provider receives the digest and the padding
 * mode and lets the TPM do PSS itself. It stays small because everything
 * about the public key (size, group, encoding, export, comparison with
 * the certificate's key) is delegated to a default-provider public key
 * kept beside the TPM handle. Why not tpm2-openssl: it opens its own TCTI,
 * and swtpm's socket TCTI takes one connection at a time.
 *
 * Two OpenSSL 3.0 details shape it: EVP_DigestSignInit first tries the
 * default provider's ECDSA/RSA with the key exported to it, so export
 * refuses any selection with the private key, which sends OpenSSL to this
 * provider's own signature; and libssl classifies keys by name, so the key
 * managers carry the default provider's names ("EC", "RSA"), with the
 * property provider=orchard-tpm, and the provider is loaded after
 * "default", which keeps plain fetches of "EC" and "RSA" on the default
 * provider (tests/unit/clients/test_tpm_pkey.c checks this). */
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/attest/attest.h"

#define PROV_NAME "orchard-tpm"
#define PROPS "provider=orchard-tpm"
#define PARAM_TPM "orchard-tpm-handle" /* the struct oa_tpm pointer, as bytes */

/* Key data: the TPM (NULL for a public key imported from elsewhere, as
 * EVP_PKEY_eq does) and the public key as a default-provider key. */
struct tk {
	struct oa_tpm *t;
	EVP_PKEY *pub;
	const char *type; /* "EC" or "RSA" */
};

static void *km_new(const char *type)
{
	struct tk *k = calloc(1, sizeof *k);

	if (k != NULL)
		k->type = type;
	return k;
}
static void *km_new_ec(void *provctx)
{
	(void)provctx;
	return km_new("EC");
}
static void *km_new_rsa(void *provctx)
{
	(void)provctx;
	return km_new("RSA");
}

static void km_free(void *kd)
{
	struct tk *k = kd;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	free(k);
}

static int km_has(const void *kd, int selection)
{
	const struct tk *k = kd;

	if (k == NULL || k->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && k->t == NULL)
		return 0;
	return 1;
}

static int km_import(void *kd, int selection, const OSSL_PARAM params[])
{
	struct tk *k = kd;
	const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, PARAM_TPM);
	EVP_PKEY_CTX *c;
	int ok;

	(void)selection;
	if (k == NULL || k->pub != NULL)
		return 0;
	if (p != NULL) {
		if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size != sizeof k->t)
			return 0;
		memcpy(&k->t, p->data, sizeof k->t);
	}
	c = EVP_PKEY_CTX_new_from_name(NULL, k->type, "provider=default");
	ok = c != NULL && EVP_PKEY_fromdata_init(c) == 1 &&
	     EVP_PKEY_fromdata(c, &k->pub, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static const OSSL_PARAM *km_import_types_ec(int selection)
{
	static const OSSL_PARAM t[] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
				       OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
				       OSSL_PARAM_octet_string(PARAM_TPM, NULL, 0), OSSL_PARAM_END};

	(void)selection;
	return t;
}
static const OSSL_PARAM *km_import_types_rsa(int selection)
{
	static const OSSL_PARAM t[] = {OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
				       OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
				       OSSL_PARAM_octet_string(PARAM_TPM, NULL, 0), OSSL_PARAM_END};

	(void)selection;
	return t;
}

/* The public key only: a private key is never exported (see the top). */
static int km_export(void *kd, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct tk *k = kd;
	OSSL_PARAM *params = NULL;
	int ok;

	if (k == NULL || k->pub == NULL || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return 0;
	if (EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
		return 0;
	ok = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ok;
}

static const OSSL_PARAM *km_export_types_ec(int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL : km_import_types_ec(0);
}
static const OSSL_PARAM *km_export_types_rsa(int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL : km_import_types_rsa(0);
}

static int km_get_params(void *kd, OSSL_PARAM params[])
{
	struct tk *k = kd;

	return k != NULL && k->pub != NULL && EVP_PKEY_get_params(k->pub, params) == 1;
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END};

	(void)provctx;
	return t;
}

/* The public halves are equal (the private half is the TPM's). */
static int km_match(const void *kd1, const void *kd2, int selection)
{
	const struct tk *a = kd1, *b = kd2;

	(void)selection;
	return a != NULL && b != NULL && a->pub != NULL && b->pub != NULL &&
	       EVP_PKEY_eq(a->pub, b->pub) == 1;
}

static const char *km_op_name_ec(int id)
{
	return id == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}
static const char *km_op_name_rsa(int id)
{
	return id == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

#define KEYMGMT(kind)                                                                              \
	static const OSSL_DISPATCH km_##kind[] = {                                                 \
		{OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new_##kind},                            \
		{OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},                                 \
		{OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},                                   \
		{OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},                             \
		{OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types_##kind},          \
		{OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},                             \
		{OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_export_types_##kind},          \
		{OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},                     \
		{OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params},           \
		{OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},                               \
		{OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_op_name_##kind},       \
		{0, NULL}}
KEYMGMT(ec);
KEYMGMT(rsa);

/* --- digest and sign -------------------------------------------------- */

struct sig {
	struct tk *k;
	EVP_MD_CTX *md;
	int bits; /* 256, 384, 512 */
	bool pss;
};

static void *sig_newctx(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return calloc(1, sizeof(struct sig));
}

static void sig_freectx(void *ctx)
{
	struct sig *s = ctx;

	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->md);
	free(s);
}

static void *sig_dupctx(void *ctx)
{
	struct sig *s = ctx, *d = malloc(sizeof *d);

	if (d == NULL)
		return NULL;
	*d = *s;
	d->md = NULL;
	if (s->md != NULL && (d->md = EVP_MD_CTX_new()) != NULL &&
	    EVP_MD_CTX_copy_ex(d->md, s->md) != 1) {
		EVP_MD_CTX_free(d->md);
		d->md = NULL;
	}
	if (s->md != NULL && d->md == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

static int sig_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct sig *s = ctx;
	const OSSL_PARAM *p;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		int mode = 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING)
			mode = strcmp(p->data, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0
				       ? RSA_PKCS1_PSS_PADDING
			       : strcmp(p->data, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0
				       ? RSA_PKCS1_PADDING
				       : 0;
		else if (!OSSL_PARAM_get_int(p, &mode))
			return 0;
		if (mode != RSA_PKCS1_PSS_PADDING && mode != RSA_PKCS1_PADDING)
			return 0;
		s->pss = mode == RSA_PKCS1_PSS_PADDING;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
		/* The TPM's salt is as long as the digest: accept only that. */
		int len = 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING)
			return strcmp(p->data, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0;
		if (!OSSL_PARAM_get_int(p, &len))
			return 0;
		return len == RSA_PSS_SALTLEN_DIGEST || (s->bits != 0 && len == s->bits / 8);
	}
	return 1;
}

static const OSSL_PARAM *sig_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0), OSSL_PARAM_END};

	(void)ctx;
	(void)provctx;
	return t;
}

static int sig_digest_sign_init(void *ctx, const char *mdname, void *kd, const OSSL_PARAM params[])
{
	struct sig *s = ctx;
	EVP_MD *md;

	if (kd != NULL)
		s->k = kd;
	if (s->k == NULL || s->k->t == NULL)
		return 0;
	md = EVP_MD_fetch(NULL, mdname ? mdname : "SHA256", "provider=default");
	if (md == NULL)
		return 0;
	s->bits = EVP_MD_get_size(md) * 8;
	if ((s->bits != 256 && s->bits != 384 && s->bits != 512) ||
	    (s->md == NULL && (s->md = EVP_MD_CTX_new()) == NULL) ||
	    EVP_DigestInit_ex(s->md, md, NULL) != 1) {
		EVP_MD_free(md);
		return 0;
	}
	EVP_MD_free(md);
	return sig_set_ctx_params(ctx, params);
}

static int sig_digest_sign_update(void *ctx, const unsigned char *data, size_t len)
{
	struct sig *s = ctx;

	return s->md != NULL && EVP_DigestUpdate(s->md, data, len) == 1;
}

static int sig_digest_sign_final(void *ctx, unsigned char *out, size_t *outlen, size_t outsize)
{
	struct sig *s = ctx;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	struct oa_buf sig = {0};
	char err[OA_ERR_MAX];
	int max = EVP_PKEY_get_size(s->k->pub);

	if (max <= 0)
		return 0;
	if (out == NULL) {
		*outlen = (size_t)max;
		return 1;
	}
	if (EVP_DigestFinal_ex(s->md, d, &dlen) != 1 ||
	    oa_tpm_sign_digest(s->k->t, s->bits, s->pss, d, dlen, &sig, err) != 0)
		return 0;
	if (sig.n > outsize) {
		oa_buf_free(&sig);
		return 0;
	}
	memcpy(out, sig.b, sig.n);
	*outlen = sig.n;
	oa_buf_free(&sig);
	return 1;
}

static const OSSL_DISPATCH sig_fns[] = {
	{OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx},
	{OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},
	{OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_sign_update},
	{OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},
	{OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},
	{OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params},
	{0, NULL}};

/* --- the provider ------------------------------------------------------ */

static const OSSL_ALGORITHM keymgmts[] = {
	{"EC:id-ecPublicKey:1.2.840.10045.2.1", PROPS, km_ec, "TPM-held EC key"},
	{"RSA:rsaEncryption:1.2.840.113549.1.1.1", PROPS, km_rsa, "TPM-held RSA key"},
	{NULL, NULL, NULL, NULL}};
static const OSSL_ALGORITHM signatures[] = {
	{"ECDSA", PROPS, sig_fns, "TPM2_Sign ECDSA"},
	{"RSA:rsaEncryption:1.2.840.113549.1.1.1", PROPS, sig_fns, "TPM2_Sign RSA"},
	{NULL, NULL, NULL, NULL}};

static const OSSL_ALGORITHM *prov_query(void *provctx, int id, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	return id == OSSL_OP_KEYMGMT ? keymgmts : id == OSSL_OP_SIGNATURE ? signatures : NULL;
}

static const OSSL_DISPATCH prov_fns[] = {
	{OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query}, {0, NULL}};

static int prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
		     const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	*out = prov_fns;
	*provctx = (void *)prov_fns;
	return 1;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static OSSL_PROVIDER *prov_default, *prov_tpm;

/* At exit, before OPENSSL_cleanup (registered earlier, so run later). */
static void unload(void)
{
	OSSL_PROVIDER_unload(prov_tpm);
	OSSL_PROVIDER_unload(prov_default);
	prov_tpm = prov_default = NULL;
}

/* "default" first, then this provider: the order plain fetches see. */
static void load(void)
{
	prov_default = OSSL_PROVIDER_load(NULL, "default");
	if (prov_default != NULL && OSSL_PROVIDER_add_builtin(NULL, PROV_NAME, prov_init) == 1)
		prov_tpm = OSSL_PROVIDER_load(NULL, PROV_NAME);
	loaded = prov_default != NULL && prov_tpm != NULL;
	atexit(unload);
}

EVP_PKEY *oa_tpm_pkey(struct oa_tpm *t, char *err)
{
	EVP_PKEY *pub = NULL, *pk = NULL;
	EVP_PKEY_CTX *c = NULL;
	OSSL_PARAM *data = NULL, *all = NULL;
	OSSL_PARAM handle[] = {OSSL_PARAM_octet_string(PARAM_TPM, &t, sizeof t), OSSL_PARAM_END};
	bool ecc = oa_tpm_key_is_ecc(t);

	pthread_once(&once, load);
	if (!loaded) {
		snprintf(err, OA_ERR_MAX, "cannot load the %s provider", PROV_NAME);
		return NULL;
	}
	if ((pub = oa_tpm_key_pkey(t, err)) == NULL)
		return NULL;
	if (EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY, &data) != 1 ||
	    (all = OSSL_PARAM_merge(data, handle)) == NULL ||
	    (c = EVP_PKEY_CTX_new_from_name(NULL, ecc ? "EC" : "RSA", PROPS)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pk, EVP_PKEY_KEYPAIR, all) != 1) {
		snprintf(err, OA_ERR_MAX, "cannot make the TPM key an OpenSSL key");
		pk = NULL;
	}
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(all);
	OSSL_PARAM_free(data);
	EVP_PKEY_free(pub);
	return pk;
}
