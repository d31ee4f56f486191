/* Development PKI: a P-256 root and a localhost server certificate, so that
 * `make run` serves HTTPS with nothing configured. Production deployments
 * set --tls-cert/--tls-key and never reach this code. */
#include "pki/devpki.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "pki/pki_int.h"

static int file_exists(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, R_OK) == 0;
}

/* Writes dir/name (pki__pem_write: a key, or cert when key is NULL). */
static int pem_write(const char *dir, const char *name, EVP_PKEY *key, X509 *cert)
{
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof path || pki__pem_write(path, cert, key, NULL) != 0) {
		log_kv(LOG_ERROR, "cannot write key material", "path", path, NULL);
		return -1;
	}
	return 0;
}

/* Creates a certificate for key, signed by issuer_key (self-signed when
 * issuer is NULL). Returns NULL on failure. */
static X509 *cert_make(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long days,
		       int is_ca)
{
	X509 *cert = X509_new();
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;
	uint8_t rnd[16];
	int ok = 0;

	if (cert == NULL || RAND_bytes(rnd, sizeof rnd) != 1)
		goto out;
	rnd[0] &= 0x7f; /* positive serial */
	bn = BN_bin2bn(rnd, sizeof rnd, NULL);
	serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (serial == NULL || !X509_set_version(cert, 2) || !X509_set_serialNumber(cert, serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400) || !X509_set_pubkey(cert, key))
		goto out;
	X509_NAME *name = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Orchard",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name))
		goto out;
	X509 *iss = issuer ? issuer : cert;
	if (!pki__ext_add(cert, iss, NID_subject_key_identifier, "hash") ||
	    !pki__ext_add(cert, iss, NID_authority_key_identifier, "keyid:always"))
		goto out;
	if (is_ca) {
		if (!pki__ext_add(cert, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:1") ||
		    !pki__ext_add(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto out;
	} else if (!pki__ext_add(cert, iss, NID_basic_constraints, "critical,CA:FALSE") ||
		   !pki__ext_add(cert, iss, NID_key_usage, "critical,digitalSignature") ||
		   !pki__ext_add(cert, iss, NID_ext_key_usage, "serverAuth") ||
		   !pki__ext_add(cert, iss, NID_subject_alt_name,
				 "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1")) {
		goto out;
	}
	ok = X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	if (!ok) {
		X509_free(cert);
		cert = NULL;
	}
	return cert;
}

/* Takes an exclusive lock on path (created if missing), so concurrent
 * starters create key material once. Returns the descriptor or -1. */
static int lock_take(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Reads dir/root.pem and dir/root.key. 0 or -1. */
static int root_load(const char *dir, X509 **root, EVP_PKEY **key)
{
	char path[4096];
	const char *pass = getenv("ORCHARD_CA_PASSPHRASE");
	FILE *f;

	snprintf(path, sizeof path, "%s/root.pem", dir);
	if ((f = fopen(path, "re")) != NULL) {
		*root = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/root.key", dir);
	if ((f = fopen(path, "re")) != NULL) {
		*key = PEM_read_PrivateKey(f, NULL, NULL, (void *)(pass ? pass : ""));
		fclose(f);
	}
	if (*root == NULL || *key == NULL) {
		log_kv(LOG_ERROR, "cannot load the existing root to sign the TLS certificate",
		       "dir", dir, NULL);
		return -1;
	}
	return 0;
}

int devpki_ensure(const char *dir)
{
	char lock[4096];
	EVP_PKEY *root_key = NULL, *srv_key = NULL;
	X509 *root = NULL, *srv = NULL;
	int fd = -1, rc = -1;

	if (pki__mkdir_p(dir, 0700) != 0) {
		log_kv(LOG_ERROR, "cannot create the PKI folder", "path", dir, NULL);
		return -1;
	}
	snprintf(lock, sizeof lock, "%s/.lock", dir);
	if ((fd = lock_take(lock)) < 0)
		goto out;
	if (file_exists(dir, "root.pem") && file_exists(dir, "server.pem") &&
	    file_exists(dir, "server.key")) {
		rc = 0;
		goto out;
	}
	/* A root that exists (the CA may have made it first) is kept: clients
	 * trust it already. Its key may be encrypted with the CA passphrase. */
	if (file_exists(dir, "root.pem") && root_load(dir, &root, &root_key) != 0)
		goto out;
	if (root_key == NULL)
		root_key = EVP_EC_gen("P-256");
	srv_key = EVP_EC_gen("P-256");
	if (root_key == NULL || srv_key == NULL)
		goto out;
	if (root == NULL) {
		root = cert_make(root_key, "Orchard development root", NULL, NULL, 3650, 1);
		if (root == NULL || pem_write(dir, "root.key", root_key, NULL) != 0 ||
		    pem_write(dir, "root.pem", NULL, root) != 0)
			goto out;
	}
	srv = cert_make(srv_key, "localhost", root, root_key, 825, 0);
	if (srv == NULL || pem_write(dir, "server.key", srv_key, NULL) != 0 ||
	    pem_write(dir, "server.pem", NULL, srv) != 0)
		goto out;
	log_kv(LOG_INFO, "created the development PKI", "root", "root.pem", "dir", dir, NULL);
	rc = 0;
out:
	if (rc != 0)
		log_kv(LOG_ERROR, "cannot create the development PKI", "dir", dir, NULL);
	if (fd >= 0)
		close(fd);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(srv_key);
	X509_free(root);
	X509_free(srv);
	return rc;
}

int devpki_ensure_key(const char *path)
{
	char dir[4096], lock[4200];
	const char *slash = strrchr(path, '/');
	EVP_PKEY *key = NULL;
	int fd = -1, rc = -1;

	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (pki__mkdir_p(dir, 0700) != 0)
		goto out;
	snprintf(lock, sizeof lock, "%s.lock", path);
	if ((fd = lock_take(lock)) < 0)
		goto out;
	if (access(path, R_OK) == 0) {
		rc = 0;
		goto out;
	}
	key = EVP_EC_gen("P-256");
	if (key == NULL || pem_write(dir, slash ? slash + 1 : path, key, NULL) != 0)
		goto out;
	log_kv(LOG_INFO, "created a signing key", "path", path, NULL);
	rc = 0;
out:
	if (rc != 0)
		log_kv(LOG_ERROR, "cannot create a signing key", "path", path, NULL);
	if (fd >= 0)
		close(fd);
	EVP_PKEY_free(key);
	return rc;
}
