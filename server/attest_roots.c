/* Attestation trust anchors: the external roots file is read and checked
 * once, at start, into one store that every validation shares (a
 * reference each: X509_STORE locks its own lookups). It was built again
 * from the PEM for each validation, which parsed every anchor each time.
 * Each certificate is an anchor on its own (partial chains):
 * Orchard's root is not one, or its device certificates would pass as AK
 * certificates. */
#include "server/attest_roots.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/log.h"
#include "pki/pki.h"
#include "server/server.h"

/* Adds every certificate of pem to st; their number, or -1 when one is no
 * CA certificate. *first gets the first (a reference) when not NULL. */
static int add_pem(X509_STORE *st, const char *pem, size_t len, X509 **first)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	int n = 0;

	if (b == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (X509_check_ca(x) == 0 || X509_STORE_add_cert(st, x) != 1) {
			X509_free(x);
			n = -1;
			break;
		}
		if (first != NULL && *first == NULL)
			*first = x;
		else
			X509_free(x);
		n++;
	}
	ERR_clear_error(); /* the end of the PEM */
	BIO_free(b);
	return n;
}

int attest_roots_load(struct server *srv)
{
	const char *own = srv->ca ? pki_ca_att_pem(srv->ca) : NULL;
	const char *path = srv->cfg.attest_roots;
	X509_STORE *st = X509_STORE_new();
	char count[16];
	int n = 0;

	if (st == NULL)
		return -1;
	if (own != NULL && add_pem(st, own, strlen(own), &srv->att_own) < 1) {
		log_kv(LOG_ERROR, "the attestation CA cannot be a trust anchor", NULL);
		X509_STORE_free(st);
		return -1;
	}
	if (path != NULL &&
	    ((srv->att_ext_pem = file_read(path, 1 << 20, &srv->att_ext_len)) == NULL ||
	     (n = add_pem(st, srv->att_ext_pem, srv->att_ext_len, NULL)) < 1)) {
		log_kv(LOG_ERROR, "cannot read the external attestation roots", "file", path, "why",
		       srv->att_ext_pem == NULL ? "unreadable"
		       : n < 0			? "a certificate is no CA"
						: "no certificate",
		       NULL);
		X509_STORE_free(st);
		return -1;
	}
	if (own != NULL || path != NULL)
		srv->att_store = st;
	else
		X509_STORE_free(st);
	if (path != NULL) {
		snprintf(count, sizeof count, "%d", n);
		log_kv(LOG_INFO, "external attestation roots", "file", path, "certificates", count,
		       NULL);
	}
	return 0;
}

X509_STORE *attest_roots_get(struct server *srv)
{
	const char *own = srv->ca ? pki_ca_att_pem(srv->ca) : NULL;
	X509_STORE *st;

	if (srv->att_store != NULL)
		return X509_STORE_up_ref(srv->att_store) == 1 ? srv->att_store : NULL;
	if ((own == NULL && srv->att_ext_pem == NULL) || (st = X509_STORE_new()) == NULL)
		return NULL;
	if ((own != NULL && add_pem(st, own, strlen(own), NULL) < 1) ||
	    (srv->att_ext_pem != NULL &&
	     add_pem(st, srv->att_ext_pem, srv->att_ext_len, NULL) < 1)) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

void attest_roots_free(struct server *srv)
{
	X509_free(srv->att_own);
	X509_STORE_free(srv->att_store);
	srv->att_store = NULL;
	free(srv->att_ext_pem);
	srv->att_own = NULL;
	srv->att_ext_pem = NULL;
}
