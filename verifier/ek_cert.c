/* EK certificate validation (TCG EK Credential Profile for TPM 2.0, 3.2
 * certificate fields; quirks handled in verify_cb, each with its reason). */
#include "verifier/ek_cert.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "verifier/tpm_public.h"

#define ROOT_FILE_MAX (1024 * 1024)

static void add_cert(struct ek_roots *r, X509 *c, int *ok)
{
	/* Self-issued and self-signed: an anchor. Anything else is an
	 * intermediate that must still chain to an anchor. */
	if (X509_check_issued(c, c) == X509_V_OK && X509_verify(c, X509_get0_pubkey(c)) == 1) {
		if (X509_STORE_add_cert(r->store, c) == 1)
			r->nroots++;
		else
			*ok = 0;
		X509_free(c);
	} else if (sk_X509_push(r->untrusted, c) > 0) {
		r->nintermediates++;
	} else {
		X509_free(c);
		*ok = 0;
	}
}

/* Adds every certificate bio holds (PEM, several allowed, or one DER);
 * frees bio. Returns how many were read. */
static int load_bio(struct ek_roots *r, BIO *bio, int *ok)
{
	X509 *c;
	int n = 0;

	if (bio == NULL)
		return 0;
	while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		add_cert(r, c, ok);
		n++;
	}
	if (n == 0 && BIO_reset(bio) == 0 && (c = d2i_X509_bio(bio, NULL)) != NULL) {
		add_cert(r, c, ok);
		n++;
	}
	ERR_clear_error(); /* files that are not certificates are skipped */
	BIO_free(bio);
	return n;
}

static void load_file(struct ek_roots *r, const char *path, int *ok)
{
	(void)load_bio(r, BIO_new_file(path, "rb"), ok);
}

static struct ek_roots *roots_new(struct verr *e)
{
	struct ek_roots *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->store = X509_STORE_new()) == NULL ||
	    (r->untrusted = sk_X509_new_null()) == NULL) {
		verr_set(e, "internal", "out of memory");
		ek_roots_free(r);
		return NULL;
	}
	return r;
}

struct ek_roots *ek_roots_load_pem(const char *pem, size_t n, struct verr *e)
{
	struct ek_roots *r;
	int ok = 1;

	if (pem == NULL || n == 0 || n > ROOT_FILE_MAX) {
		verr_set(e, "roots-empty", "no certificates given");
		return NULL;
	}
	if ((r = roots_new(e)) == NULL)
		return NULL;
	(void)load_bio(r, BIO_new_mem_buf(pem, (int)n), &ok);
	if (!ok) {
		verr_set(e, "internal", "out of memory loading roots");
		ek_roots_free(r);
		return NULL;
	}
	if (r->nroots == 0 && r->nintermediates == 0) {
		verr_set(e, "roots-empty", "no certificate in the PEM text");
		ek_roots_free(r);
		return NULL;
	}
	return r;
}

struct ek_roots *ek_roots_load_dir(const char *dir, struct verr *e)
{
	struct ek_roots *r = roots_new(e);
	DIR *d = NULL;
	struct dirent *de;
	char path[4096];
	int ok = 1;

	if (r == NULL)
		goto fail;
	d = opendir(dir);
	if (d == NULL) {
		verr_set(e, "roots-read", "cannot open roots folder %s", dir);
		goto fail;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		load_file(r, path, &ok);
	}
	closedir(d);
	if (!ok) {
		verr_set(e, "internal", "out of memory loading roots");
		goto fail;
	}
	if (r->nroots == 0) {
		verr_set(e, "roots-empty", "no self-signed root certificate in %s", dir);
		goto fail;
	}
	return r;
fail:
	ek_roots_free(r);
	return NULL;
}

void ek_roots_free(struct ek_roots *r)
{
	if (r == NULL)
		return;
	X509_STORE_free(r->store);
	sk_X509_pop_free(r->untrusted, X509_free);
	free(r);
}

X509 *ek_cert_parse(const uint8_t *b, size_t n, struct verr *e)
{
	const uint8_t *p = b;
	X509 *c = NULL;
	BIO *bio;

	if (b == NULL || n == 0 || n > ROOT_FILE_MAX) {
		verr_set(e, "ek-cert-malformed", "certificate of %zu bytes", n);
		return NULL;
	}
	c = d2i_X509(NULL, &p, (long)n);
	if (c != NULL && p != b + n) {
		X509_free(c); /* trailing bytes after the DER */
		c = NULL;
	}
	if (c == NULL && (bio = BIO_new_mem_buf(b, (int)n)) != NULL) {
		c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	if (c == NULL)
		verr_set(e, "ek-cert-malformed", "not a DER or PEM certificate");
	return c;
}

/* True when every critical extension OpenSSL does not handle is one the
 * TCG profile defines (2.23.133.*) or Subject Directory Attributes, which
 * EK certificates use for the TPM specification and security assertions. */
static int only_tcg_critical(X509 *c)
{
	static const uint8_t tcg[] = {0x67, 0x81, 0x05}; /* DER of arc 2.23.133 */
	for (int i = 0; i < X509_get_ext_count(c); i++) {
		X509_EXTENSION *x = X509_get_ext(c, i);
		const ASN1_OBJECT *o = X509_EXTENSION_get_object(x);
		const unsigned char *der = OBJ_get0_data(o);
		size_t len = OBJ_length(o);

		if (!X509_EXTENSION_get_critical(x) || X509_supported_extension(x))
			continue;
		if (OBJ_obj2nid(o) == NID_subject_directory_attributes)
			continue;
		if (len >= sizeof(tcg) && memcmp(der, tcg, sizeof(tcg)) == 0)
			continue;
		return 0;
	}
	return 1;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION &&
	    only_tcg_critical(X509_STORE_CTX_get_current_cert(ctx)))
		return 1;
	return ok;
}

int ek_cert_verify(const struct ek_roots *roots, X509 *cert, int64_t at, struct verr *e)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1, err;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, roots->store, cert, roots->untrusted) != 1) {
		verr_set(e, "internal", "X509_STORE_CTX_init failed");
		goto out;
	}
	/* No purpose is set: EK certificates carry tcg-kp-EKCertificate, not
	 * a TLS purpose, and often keyEncipherment alone. X509_V_FLAG_X509_STRICT
	 * stays off because vendor EK certificates routinely break its rules
	 * (empty subject with a non-critical SAN, missing key identifiers). */
	if (at != 0)
		X509_STORE_CTX_set_time(ctx, 0, (time_t)at);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	if (err == X509_V_ERR_CERT_HAS_EXPIRED)
		verr_set(e, "ek-expired", "EK certificate chain has expired");
	else if (err == X509_V_ERR_CERT_NOT_YET_VALID)
		verr_set(e, "ek-not-yet-valid", "EK certificate chain is not yet valid");
	else
		verr_set(e, "ek-chain", "EK certificate does not chain to a trusted root: %s",
			 X509_verify_cert_error_string(err));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	return rc;
}

int ek_cert_match_public(X509 *cert, const TPMT_PUBLIC *p, struct verr *e)
{
	const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
				 TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				 TPMA_OBJECT_SENSITIVEDATAORIGIN;
	EVP_PKEY *pk = NULL;
	int rc = -1;

	if ((p->objectAttributes & need) != need ||
	    (p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
		verr_set(e, "ek-attributes",
			 "EK public area is not a restricted decryption key (0x%08x)",
			 p->objectAttributes);
		goto out;
	}
	pk = tpm_public_to_pkey(p, e);
	if (pk == NULL)
		goto out;
	if (EVP_PKEY_eq(pk, X509_get0_pubkey(cert)) != 1) {
		verr_set(e, "ek-cert-mismatch",
			 "EK public area is not the key in the EK certificate");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	return rc;
}

int ek_registration_id(const uint8_t *ek, size_t n, char *out, size_t cap)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t d[32];
	unsigned int dl = 0;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (cap < 53 || EVP_Digest(ek, n, d, &dl, EVP_sha256(), NULL) != 1)
		return -1;
	for (size_t i = 0; i < dl; i++) {
		acc = (acc << 8) | d[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return 0;
}
