/* orchardd's side of the CA: opening it from the configuration, recording
 * what pki_issue() made, and the CRL, rebuilt at most once a minute or
 * when a revocation is announced. */
#ifndef ORCHARD_CERTS_H
#define ORCHARD_CERTS_H
#include <stddef.h>
#include <stdint.h>

#include "pki/pki.h"
#include "server/store/store.h"

struct config;
struct server;
struct events;

/* Opens the CA in DATA_DIR/pki (or the imported files the configuration
 * names), the passphrase from ORCHARD_CA_PASSPHRASE. NULL after logging
 * why. */
struct pki_ca *certs_ca_open(const struct config *cfg);

/* Who asked for a certificate; NULL fields are not recorded. */
struct certs_origin {
	const char *acme_account_id, *acme_order_id, *dps_registration;
};

/* Inside the caller's transaction: records cert, issued under profile.
 * STORE_ONE, or an error status. */
enum store_qs certs_record(struct store_conn *c, const struct pki_cert *cert, const char *profile,
			   const struct certs_origin *origin);

struct store_cert;
/* One recorded certificate by serial (32 lower-case hex digits), with its
 * DER, into *out (free with store_cert_free()), on its own connection:
 * STORE_ONE, STORE_NONE or an error status. */
enum store_qs certs_select(struct server *srv, const char *serial, struct store_cert *out);

struct certs_crl;
/* The CRL cache; subscribes to EVENTS_CERT_REVOKED on ev (may be NULL:
 * then only the age limit applies). NULL when out of memory. */
struct certs_crl *certs_crl_new(struct events *ev);
void certs_crl_free(struct certs_crl *cache, struct events *ev);

/* The intermediate's current CRL (DER, malloc'd copy for the caller;
 * AK certificates are not on it). 0, -1 when the database failed (*db
 * set) or signing failed. */
int certs_crl_get(struct server *srv, uint8_t **der, size_t *len, int *db);

/* The same for the attestation CA (revoked AK certificates); -1 without
 * *db also when there is no attestation CA. */
int certs_att_crl_get(struct server *srv, uint8_t **der, size_t *len, int *db);

/* `orchardd cert issue|revoke` (server/cmd_cert.c); argv[0] is "cert".
 * Returns the exit status. */
int cmd_cert(struct server *srv, int argc, char **argv);

#endif
