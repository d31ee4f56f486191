/* `orchardd cert issue|revoke`: the CA from the command line, for an
 * operator at 3 a.m. and for tests. It goes through pki_issue() and records
 * the certificate exactly as the HTTP paths do. */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/file.h"
#include "pki/pki.h"
#include "server/certs.h"
#include "server/server.h"
#include "server/store/migrate.h"
#include "server/store/pki.h"
#include "server/store/store.h"

#define CLI_SANS_MAX 32

static void cert_usage(void)
{
	fprintf(stderr,
		"usage: orchardd cert issue --csr FILE --profile NAME\n"
		"                           --san dns:NAME|ip:ADDR|uri:URI|permanent-identifier:ID...\n"
		"                           [--out FILE]\n"
		"       orchardd cert revoke SERIAL [--reason NAME]\n"
		"The CSR may be PEM or DER; the chain (leaf, intermediate) goes to stdout or FILE.\n");
}

/* The CSR file as DER (PEM is converted). NULL when unreadable. */
static uint8_t *csr_load(const char *path, size_t *len)
{
	size_t n = 0;
	char *text = file_read(path, 64 * 1024, &n);
	uint8_t *der = NULL;

	if (text == NULL)
		return NULL;
	if (strstr(text, "-----BEGIN") != NULL) {
		BIO *b = BIO_new_mem_buf(text, (int)n);
		X509_REQ *r = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
		unsigned char *p = NULL;
		int dl = r ? i2d_X509_REQ(r, &p) : -1;
		if (dl > 0 && (der = malloc((size_t)dl)) != NULL) {
			memcpy(der, p, (size_t)dl);
			*len = (size_t)dl;
		}
		OPENSSL_free(p);
		X509_REQ_free(r);
		BIO_free(b);
		free(text);
		return der;
	}
	*len = n;
	return (uint8_t *)text;
}

static int san_parse(const char *arg, struct pki_san *san)
{
	static const struct {
		const char *prefix;
		enum pki_san_type type;
	} kinds[] = {{"dns:", PKI_SAN_DNS},
		     {"ip:", PKI_SAN_IP},
		     {"uri:", PKI_SAN_URI},
		     {"permanent-identifier:", PKI_SAN_PERMANENT_ID}};

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncasecmp(arg, kinds[i].prefix, n) == 0) {
			san->type = kinds[i].type;
			san->value = arg + n;
			san->assigner = NULL;
			return 0;
		}
	}
	return -1;
}

struct issue_txn {
	const struct pki_cert *cert;
	const char *profile;
};

static enum store_qs issue_record_cb(struct store_conn *c, void *cls)
{
	struct issue_txn *t = cls;

	return certs_record(c, t->cert, t->profile, NULL);
}

static int cert_issue(struct server *srv, int argc, char **argv)
{
	struct pki_san sans[CLI_SANS_MAX];
	struct pki_issue_req req = {.sans = sans};
	struct pki_cert cert = {0};
	const char *csr_path = NULL, *out_path = NULL;
	uint8_t *csr = NULL;
	char why[256];
	FILE *out = NULL;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL) {
			cert_usage();
			return 2;
		}
		if (strcmp(argv[i], "--csr") == 0) {
			csr_path = v;
		} else if (strcmp(argv[i], "--profile") == 0) {
			req.profile = v;
		} else if (strcmp(argv[i], "--out") == 0) {
			out_path = v;
		} else if (strcmp(argv[i], "--san") == 0 && req.nsans < CLI_SANS_MAX &&
			   san_parse(v, &sans[req.nsans]) == 0) {
			req.nsans++;
		} else {
			fprintf(stderr, "orchardd: cert issue: bad argument %s %s\n", argv[i], v);
			cert_usage();
			return 2;
		}
		i++;
	}
	if (csr_path == NULL || req.profile == NULL || req.nsans == 0) {
		cert_usage();
		return 2;
	}
	if ((csr = csr_load(csr_path, &req.csr_len)) == NULL) {
		fprintf(stderr, "orchardd: cannot read a CSR from %s\n", csr_path);
		return 1;
	}
	req.csr_der = csr;
	if (migrate_apply(srv->cfg.database_url) != 0 ||
	    (srv->ca = certs_ca_open(&srv->cfg)) == NULL ||
	    (srv->store = store_new(srv->cfg.database_url, 1, 5000)) == NULL)
		goto out;
	if (pki_issue(srv->ca, &req, &cert, why, sizeof why) != PKI_OK) {
		fprintf(stderr, "orchardd: refused: %s\n", why);
		goto out;
	}
	struct issue_txn t = {&cert, req.profile};
	if (store_run_txn(srv->store, issue_record_cb, &t) != STORE_ONE) {
		fprintf(stderr, "orchardd: could not record the certificate; nothing issued\n");
		goto out;
	}
	out = out_path ? fopen(out_path, "we") : stdout;
	if (out == NULL || fputs(cert.chain_pem, out) < 0 || (out_path && fclose(out) != 0)) {
		fprintf(stderr, "orchardd: cannot write %s (serial %s is recorded)\n",
			out_path ? out_path : "stdout", cert.serial);
		goto out;
	}
	fprintf(stderr, "serial %s, profile %s, %s\n", cert.serial, req.profile, cert.sans_text);
	rc = 0;
out:
	free(csr);
	pki_cert_free(&cert);
	store_free(srv->store);
	pki_ca_free(srv->ca);
	return rc;
}

struct revoke_txn {
	const char *serial;
	int reason;
};

static enum store_qs revoke_cb(struct store_conn *c, void *cls)
{
	struct revoke_txn *t = cls;

	return store_revoke_certificate(c, t->serial, t->reason);
}

static int cert_revoke(struct server *srv, int argc, char **argv)
{
	char serial[33];
	struct revoke_txn t = {.serial = serial};
	enum store_qs qs;

	if (argc < 2 || pki_serial_canonical(argv[1], serial) != 0 || (argc != 2 && argc != 4) ||
	    (argc == 4 &&
	     (strcmp(argv[2], "--reason") != 0 || (t.reason = pki_reason_parse(argv[3])) < 0))) {
		cert_usage();
		return 2;
	}
	if (migrate_apply(srv->cfg.database_url) != 0 ||
	    (srv->store = store_new(srv->cfg.database_url, 1, 5000)) == NULL)
		return 1;
	qs = store_run_txn(srv->store, revoke_cb, &t);
	store_free(srv->store);
	if (qs == STORE_NONE)
		fprintf(stderr, "orchardd: no unrevoked certificate with serial %s\n", t.serial);
	return qs == STORE_ONE ? 0 : 1;
}

int cmd_cert(struct server *srv, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "issue") == 0)
		return cert_issue(srv, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "revoke") == 0)
		return cert_revoke(srv, argc - 1, argv + 1);
	cert_usage();
	return 2;
}
