/* Queries on the CA's record of issued certificates, as typed rows. */
#ifndef ORCHARD_STORE_PKI_H
#define ORCHARD_STORE_PKI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store/store.h"

/* One certificate row. Rows filled by a query own their strings:
 * store_cert_free(). For inserts the caller keeps its strings and der. */
struct store_cert {
	char *serial, *sans, *key_type, *profile;
	long long not_before, not_after, issued_at;		  /* epoch seconds */
	char *acme_account_id, *acme_order_id, *dps_registration; /* NULL when none */
	long long seq;	      /* issue order, the listing cursor */
	long long revoked_at; /* 0 while not revoked */
	int reason;	      /* RFC 5280 code; -1 while not revoked */
	char *der_b64;	      /* the DER, base64 (selected rows only) */
	const uint8_t *der;   /* the DER (inserts only) */
	size_t der_len;
};
void store_cert_free(struct store_cert *c);

struct store_cert_page {
	struct store_cert *rows;
	size_t n;
};
void store_cert_page_free(struct store_cert_page *p);

/* Records an issued certificate (every field but issued_at, revocation
 * and der_b64). STORE_CONFLICT for a serial in use. Handlers call it in
 * the transaction that updates what asked for the certificate. */
enum store_qs store_insert_certificate(struct store_conn *c, const struct store_cert *cert);

/* One certificate by serial (lower-case hex), with its DER. */
enum store_qs store_select_certificate(struct store_conn *c, const char *serial,
				       struct store_cert *out);

/* What a listing selects: NULL/0 fields do not filter. */
struct store_cert_filter {
	const char *profile;
	const char *san; /* substring of the SAN text */
	int status;	 /* 0 any, 1 valid (not revoked, not expired), 2 revoked, 3 expired */
	long long after; /* keyset cursor: the seq of the last row seen; 0: from the start */
	int limit;
};

/* Certificates in issue order, after the cursor, without DER. */
enum store_qs store_select_certificates(struct store_conn *c, const struct store_cert_filter *f,
					struct store_cert_page *out);

/* Revokes serial with reason (RFC 5280 code), announcing the serial on
 * EVENTS_CERT_REVOKED at commit. STORE_ONE when revoked now, STORE_NONE when
 * unknown or already revoked (select it to tell which). */
enum store_qs store_revoke_certificate(struct store_conn *c, const char *serial, int reason);

/* Revoked certificates that have not expired (the CRL's entries): AK
 * certificates (profile attestation-key, the attestation CA's CRL) when
 * attestation, else every other (the intermediate's). Rows carry serial,
 * revoked_at and reason only. */
enum store_qs store_select_revoked_certificates(struct store_conn *c, bool attestation,
						struct store_cert_page *out);

#endif
