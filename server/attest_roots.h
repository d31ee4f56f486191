/* The trust anchors device-attest-01 checks AK certificates against:
 * Orchard's attestation CA and the operator's external attestation roots
 * (--attest-roots FILE.pem), read once at start. */
#ifndef ORCHARD_SERVER_ATTEST_ROOTS_H
#define ORCHARD_SERVER_ATTEST_ROOTS_H
#include <openssl/x509.h>

struct server;

/* Reads cfg.attest_roots into srv and srv->att_own from the CA's
 * attestation CA. Every certificate in the file must be a CA certificate;
 * none, or an unreadable file, fails the start. 0, or -1 (logged). */
int attest_roots_load(struct server *srv);

/* The store of every anchor, a reference the caller X509_STORE_free()s
 * (the one attest_roots_load() built, else a new one), or NULL when there
 * is no attestation CA and no external root. */
X509_STORE *attest_roots_get(struct server *srv);

void attest_roots_free(struct server *srv);

#endif
