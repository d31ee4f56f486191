/* Opening the CA: the root (the development root devpki makes, or the
 * operator's), the issuing intermediate created on first start or
 * imported, and the parts of every leaf that never change. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki/pki_int.h"

#define INTERMEDIATE_DAYS (3 * 365)

int pki__mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) == 0 || errno == EEXIST ? 0 : -1;
}

static void path_make(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static X509 *cert_read(const char *path)
{
	FILE *f = fopen(path, "re");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b != NULL && PEM_write_bio_X509(b, x) && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return out;
}

int pki__ext_add(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = ext != NULL && X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A CA certificate: self-signed root when issuer is NULL (then pubkey_der
 * is the signer's own key), else an intermediate with pathlen 0. */
static X509 *ca_cert_make(struct pki_signer *signer, const uint8_t *pub_der, size_t pub_len,
			  const char *cn, X509 *issuer, long days)
{
	X509 *x = X509_new();
	EVP_PKEY *pub = NULL;
	BIGNUM *bn = NULL;
	uint8_t rnd[16];
	const unsigned char *p = pub_der;
	int ok = 0;

	if (x == NULL || RAND_bytes(rnd, sizeof rnd) != 1 ||
	    (pub = d2i_PUBKEY(NULL, &p, (long)pub_len)) == NULL)
		goto out;
	rnd[0] &= 0x7f;
	bn = BN_bin2bn(rnd, sizeof rnd, NULL);
	X509_NAME *name = X509_get_subject_name(x);
	if (bn == NULL || !X509_set_version(x, 2) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) || !X509_set_pubkey(x, pub) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Orchard",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
		goto out;
	/* Never outlive the issuer. */
	if (issuer != NULL &&
	    ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
		goto out;
	X509 *iss = issuer ? issuer : x;
	ok = pki__ext_add(x, iss, NID_basic_constraints,
			  issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE,pathlen:1") &&
	     pki__ext_add(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") &&
	     pki__ext_add(x, iss, NID_subject_key_identifier, "hash") &&
	     pki__ext_add(x, iss, NID_authority_key_identifier, "keyid:always") &&
	     pki_sign_cert(signer, x) == 0;
out:
	EVP_PKEY_free(pub);
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Does issuer's key sign cert, and is issuer a CA? */
static int issued_by(X509 *cert, X509 *issuer)
{
	return X509_check_issued(issuer, cert) == X509_V_OK &&
	       X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
}

static int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Creates root.pem/root.key when the folder has no root. */
static X509 *root_ensure(const struct pki_ca_config *cfg, char *err, size_t errlen)
{
	char cert[4096], key[4096];
	struct pki_signer *s = NULL;
	uint8_t *pub = NULL;
	size_t publen = 0;
	X509 *root = NULL;

	path_make(cert, sizeof cert, cfg->dir, "root.pem");
	path_make(key, sizeof key, cfg->dir, "root.key");
	if (file_exists(cert)) {
		if ((root = cert_read(cert)) == NULL)
			snprintf(err, errlen, "cannot read the root certificate %s", cert);
		return root;
	}
	if ((s = pki_signer_create_file(key, cfg->key_type, cfg->passphrase, err, errlen)) == NULL)
		return NULL;
	if (pki_signer_public_der(s, &pub, &publen) != 0 ||
	    (root = ca_cert_make(s, pub, publen, "Orchard root", NULL, 3650)) == NULL ||
	    pki__pem_write(cert, root, NULL, NULL) != 0) {
		snprintf(err, errlen, "cannot create the root certificate %s", cert);
		X509_free(root);
		root = NULL;
	}
	OPENSSL_free(pub);
	pki_signer_free(s);
	return root;
}

/* Makes NAME.key and NAME.pem (an intermediate called cn), signed by
 * root.key, into *signer and *cert. */
static int intermediate_create(struct pki_ca *ca, const struct pki_ca_config *cfg, const char *name,
			       const char *cn, struct pki_signer **signer, X509 **out, char *err,
			       size_t errlen)
{
	char cert[4096], key[4096], rkey[4096], file[64];
	struct pki_signer *rs = NULL;
	uint8_t *pub = NULL;
	size_t publen = 0;
	int rc = -1;

	snprintf(file, sizeof file, "%s.pem", name);
	path_make(cert, sizeof cert, cfg->dir, file);
	snprintf(file, sizeof file, "%s.key", name);
	path_make(key, sizeof key, cfg->dir, file);
	path_make(rkey, sizeof rkey, cfg->dir, "root.key");
	if ((rs = pki_signer_open_file(rkey, cfg->passphrase, err, errlen)) == NULL)
		goto out;
	if (!pki_signer_matches(rs, ca->root)) {
		snprintf(err, errlen, "%s does not belong to root.pem", rkey);
		goto out;
	}
	if ((*signer = pki_signer_create_file(key, cfg->key_type, cfg->passphrase, err, errlen)) ==
	    NULL)
		goto out;
	if (pki_signer_public_der(*signer, &pub, &publen) != 0 ||
	    (*out = ca_cert_make(rs, pub, publen, cn, ca->root, INTERMEDIATE_DAYS)) == NULL ||
	    pki__pem_write(cert, *out, NULL, NULL) != 0) {
		snprintf(err, errlen, "cannot create the intermediate %s", cert);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_free(pub);
	pki_signer_free(rs);
	return rc;
}

static int lock_take(const char *dir)
{
	char path[4096];
	int fd;

	path_make(path, sizeof path, dir, ".lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Loads or makes root and intermediate under the folder lock. */
static int keys_open(struct pki_ca *ca, const struct pki_ca_config *cfg, char *err, size_t errlen)
{
	char cert[4096], key[4096];

	if (cfg->import_root != NULL) {
		if ((ca->root = cert_read(cfg->import_root)) == NULL) {
			snprintf(err, errlen, "cannot read the root certificate %s",
				 cfg->import_root);
			return -1;
		}
	} else if ((ca->root = root_ensure(cfg, err, errlen)) == NULL) {
		return -1;
	}
	if (cfg->import_cert != NULL || cfg->import_key != NULL) {
		if (cfg->import_cert == NULL || cfg->import_key == NULL) {
			snprintf(err, errlen,
				 "importing an intermediate needs both its "
				 "certificate and its key");
			return -1;
		}
		if ((ca->cert = cert_read(cfg->import_cert)) == NULL) {
			snprintf(err, errlen, "cannot read the intermediate %s", cfg->import_cert);
			return -1;
		}
		if ((ca->signer = pki_signer_open_file(cfg->import_key, cfg->passphrase, err,
						       errlen)) == NULL)
			return -1;
	} else {
		path_make(cert, sizeof cert, cfg->dir, "ca.pem");
		path_make(key, sizeof key, cfg->dir, "ca.key");
		if (!file_exists(cert))
			return intermediate_create(ca, cfg, "ca", "Orchard issuing CA", &ca->signer,
						   &ca->cert, err, errlen);
		if ((ca->cert = cert_read(cert)) == NULL) {
			snprintf(err, errlen, "cannot read the intermediate %s", cert);
			return -1;
		}
		if ((ca->signer = pki_signer_open_file(key, cfg->passphrase, err, errlen)) == NULL)
			return -1;
	}
	if (!pki_signer_matches(ca->signer, ca->cert)) {
		snprintf(err, errlen, "the intermediate's key does not match its certificate");
		return -1;
	}
	if (X509_check_ca(ca->cert) == 0 || !issued_by(ca->cert, ca->root)) {
		snprintf(err, errlen,
			 "the intermediate is not a CA certificate issued by the root");
		return -1;
	}
	return 0;
}

/* The attestation CA (att.pem/att.key), which signs AK certificates only:
 * loaded, or created beside the TLS intermediate when the folder holds the
 * root's key. Without that key (an imported root) there is none, and
 * pki_issue_ak() refuses. 0, or -1 for a broken one. */
static int attestation_open(struct pki_ca *ca, const struct pki_ca_config *cfg, char *err,
			    size_t errlen)
{
	char cert[4096], key[4096];

	path_make(cert, sizeof cert, cfg->dir, "att.pem");
	path_make(key, sizeof key, cfg->dir, "att.key");
	if (!file_exists(cert)) {
		path_make(key, sizeof key, cfg->dir, "root.key");
		if (cfg->import_root != NULL || !file_exists(key))
			return 0;
		return intermediate_create(ca, cfg, "att", "Orchard attestation CA",
					   &ca->att_signer, &ca->att_cert, err, errlen);
	}
	if ((ca->att_cert = cert_read(cert)) == NULL) {
		snprintf(err, errlen, "cannot read the attestation CA %s", cert);
		return -1;
	}
	if ((ca->att_signer = pki_signer_open_file(key, cfg->passphrase, err, errlen)) == NULL)
		return -1;
	if (!pki_signer_matches(ca->att_signer, ca->att_cert) || X509_check_ca(ca->att_cert) == 0 ||
	    !issued_by(ca->att_cert, ca->root)) {
		snprintf(err, errlen,
			 "the attestation CA is not a CA issued by the root, or its "
			 "key does not match");
		return -1;
	}
	return 0;
}

/* A CRL Distribution Points extension with one distribution point whose
 * full name is url, or NULL (RFC 5280 4.2.1.13). Only http(s) URLs of
 * printable ASCII: the value goes into every certificate as an IA5String
 * and relying parties fetch it. */
static X509_EXTENSION *cdp_make(const char *url)
{
	size_t n = strlen(url);
	const char *host = strncmp(url, "http://", 7) == 0    ? url + 7
			   : strncmp(url, "https://", 8) == 0 ? url + 8
							      : NULL;
	CRL_DIST_POINTS *dps = NULL;
	DIST_POINT *dp = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *uri = NULL;
	X509_EXTENSION *ext = NULL;

	if (n > 1024 || host == NULL || !(isalnum((unsigned char)*host) || *host == '['))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (url[i] <= ' ' || url[i] > '~')
			return NULL;
	if ((uri = ASN1_IA5STRING_new()) == NULL || !ASN1_STRING_set(uri, url, (int)n) ||
	    (gn = GENERAL_NAME_new()) == NULL)
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if ((dp = DIST_POINT_new()) == NULL || (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL ||
	    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	dp->distpoint->type = 0; /* fullName */
	if ((dps = CRL_DIST_POINTS_new()) == NULL || !sk_DIST_POINT_push(dps, dp))
		goto out;
	dp = NULL;
	ext = X509V3_EXT_i2d(NID_crl_distribution_points, 0, dps);
out:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return ext;
}

/* The extensions every leaf shares: basic constraints, the authority key
 * identifier (the intermediate's subject key identifier) and, when
 * configured, where the CRL is. */
static int leaf_common(struct pki_ca *ca, const struct pki_ca_config *cfg, char *err, size_t errlen)
{
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, NULL, 0);
	ca->bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:FALSE");
	ca->aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if ((cfg->crl_url != NULL && (ca->cdp = cdp_make(cfg->crl_url)) == NULL) ||
	    (cfg->att_crl_url != NULL && (ca->att_cdp = cdp_make(cfg->att_crl_url)) == NULL)) {
		snprintf(err, errlen, "a CRL URL must be http:// or https:// and printable ASCII");
		return -1;
	}
	if (ca->att_cert != NULL) {
		X509V3_set_ctx(&ctx, ca->att_cert, NULL, NULL, NULL, 0);
		ca->att_aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
						  "keyid:always");
		if (ca->att_aki == NULL || (ca->att_pem = cert_pem(ca->att_cert)) == NULL)
			goto oom;
	}
	if (ca->bc && ca->aki)
		return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

struct pki_ca *pki_ca_open(const struct pki_ca_config *cfg, char *err, size_t errlen)
{
	struct pki_ca *ca = calloc(1, sizeof *ca);
	int fd = -1, ok = 0;

	if (ca == NULL || cfg->dir == NULL) {
		snprintf(err, errlen, "out of memory or no CA folder");
		goto out;
	}
	if (pki__mkdir_p(cfg->dir, 0700) != 0) {
		snprintf(err, errlen, "cannot create the CA folder %s", cfg->dir);
		goto out;
	}
	if ((fd = lock_take(cfg->dir)) < 0) {
		snprintf(err, errlen, "cannot lock the CA folder %s", cfg->dir);
		goto out;
	}
	if (pki_profiles_load(ca, cfg->profiles, err, errlen) != 0 ||
	    keys_open(ca, cfg, err, errlen) != 0 || attestation_open(ca, cfg, err, errlen) != 0)
		goto out;
	ca->root_pem = cert_pem(ca->root);
	ca->cert_pem = cert_pem(ca->cert);
	if (ca->root_pem == NULL || ca->cert_pem == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (leaf_common(ca, cfg, err, errlen) != 0)
		goto out;
	if ((ca->chain_pem = malloc(strlen(ca->cert_pem) + strlen(ca->root_pem) + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(ca->chain_pem, ca->cert_pem, strlen(ca->cert_pem));
	memcpy(ca->chain_pem + strlen(ca->cert_pem), ca->root_pem, strlen(ca->root_pem) + 1);
	ok = 1;
out:
	if (fd >= 0)
		close(fd);
	if (!ok) {
		pki_ca_free(ca);
		ca = NULL;
	}
	return ca;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (ca == NULL)
		return;
	pki_signer_free(ca->signer);
	X509_free(ca->root);
	X509_free(ca->cert);
	X509_EXTENSION_free(ca->aki);
	X509_EXTENSION_free(ca->bc);
	X509_EXTENSION_free(ca->cdp);
	pki_signer_free(ca->att_signer);
	X509_free(ca->att_cert);
	X509_EXTENSION_free(ca->att_aki);
	X509_EXTENSION_free(ca->att_cdp);
	free(ca->att_pem);
	free(ca->chain_pem);
	free(ca->root_pem);
	free(ca->cert_pem);
	pki_profiles_free(ca);
	free(ca);
}

const char *pki_ca_chain_pem(const struct pki_ca *ca)
{
	return ca->chain_pem;
}

const char *pki_ca_root_pem(const struct pki_ca *ca)
{
	return ca->root_pem;
}
