/* orchardd's process-wide state, handed to every request: configuration,
 * the store, operator auth and metrics. No other globals. */
#ifndef ORCHARD_SERVER_H
#define ORCHARD_SERVER_H
#include <stdatomic.h>

#include "server/config.h"

struct store;
struct auth;
struct metrics;
struct edge;
struct events;
struct timers;
struct jobs;
struct depot;
struct pki_ca;
struct certs_crl;

/* Room for one ACME nonce, NUL included. */
#define ACME_NONCE_MAX 64

struct server {
	struct config cfg;
	struct store *store;
	struct auth *auth;
	struct metrics *metrics;
	struct edge *edge;     /* set by http_start() */
	struct events *events; /* NOTIFY channels, for waiting requests */
	struct timers *timers; /* their deadlines */
	struct jobs *jobs;     /* slow outbound work */
	struct twin_batch
		*twin_batch;   /* twin reads and desired changes, batched (server/twin_batch.h) */
	struct depot *depot;   /* the depot key and compile worker (server/depot.h) */
	struct pki_ca *ca;     /* the CA: pki_issue() with it, certs_record() the result */
	struct certs_crl *crl; /* the CRL cache (server/certs.h) */
	struct mqtt *mqtt;     /* the MQTT backend (server/mqtt.h); NULL: none */
	/* device-attest-01's trust anchors (server/attest_roots.h): Orchard's
	 * attestation CA (att_own) and the external roots. */
	struct x509_st *att_own;
	struct x509_store_st *att_store; /* both, as one store shared by validations */
	char *att_ext_pem;		 /* --attest-roots, read at start */
	size_t att_ext_len;
	char id_scope[16]; /* DPS: this service's ID scope, from the database */
	/* ACME challenge validations: a pool of their own, so a slow
	 * validation target never delays other outbound work. */
	struct jobs *acme_jobs;
	/* "https://host[:port]" every ACME URL starts with (--acme-base-url, or
	 * the first listen address once bound); "" falls back to the Host
	 * header (a wildcard listen address names no host). */
	char acme_base[256];
	atomic_int active_requests;
	atomic_long body_in_flight; /* request body bytes buffered, all requests */
	atomic_int shutting_down;
	/* Filled by the ACME module, NULL until then: writes a fresh nonce
	 * (NUL-terminated) into out and returns out, or NULL when none could
	 * be made. reply.c sends it as Replay-Nonce on every ACME reply. */
	const char *(*acme_nonce)(struct server *srv, char out[ACME_NONCE_MAX]);
	atomic_llong acme_nonce_sweep; /* when expired nonces were last purged (s) */
};

#endif
