/* Queries of the TPM attestation CA: AK challenges (credential activation,
 * single use) and the AK certificates issued, by EK. Typed rows; the
 * handlers (server/h_attest_ak.c) render them. */
#ifndef ORCHARD_STORE_ATTEST_H
#define ORCHARD_STORE_ATTEST_H
#include <stdbool.h>

#include "server/store/dps.h"
#include "server/store/store.h"

/* One pending AK challenge. Rows filled by a query own their strings:
 * store_attest_challenge_free(). */
struct store_attest_challenge {
	char *id;
	char *enrollment_kind, *enrollment_id; /* STORE_DPS_INDIVIDUAL/GROUP and its id */
	char *registration_id;		       /* the AK certificate's permanentIdentifier */
	char *ek_hash;			       /* base64 SHA-256 of the EK's SPKI DER */
	char *attestation_key;		       /* base64 TPM2B_PUBLIC */
	char *tpm_name;			       /* base64 DER Name, or NULL */
	char *secret_hash;		       /* hex SHA-256 of the secret */
	bool live;			       /* not expired (read by the take only) */
};
void store_attest_challenge_free(struct store_attest_challenge *ch);

/* Records ch (every string field but live read, tpm_name may be NULL),
 * expiring in ttl_s seconds, unless its EK already has max_pending
 * unexpired challenges (then STORE_NONE); drops challenges expired for a
 * day. */
enum store_qs store_insert_attest_challenge(struct store_conn *c,
					    const struct store_attest_challenge *ch, int ttl_s,
					    int max_pending);

/* Deletes challenge id and returns it in *out (zeroed first), live set
 * when it had not expired: whatever the caller decides, it is used.
 * STORE_NONE when there is none. */
enum store_qs store_take_attest_challenge(struct store_conn *c, const char *id,
					  struct store_attest_challenge *out);

/* Records that certificate serial (already in certificates) is the AK
 * certificate of challenge ch's EK and device, announcing "registrationId
 * serial" on EVENTS_ATTEST_AK. */
enum store_qs store_insert_attest_certificate(struct store_conn *c, const char *serial,
					      const struct store_attest_challenge *ch);

/* How many AK certificates of the EK whose hash is ek_hash are revoked,
 * into *n. */
enum store_qs store_count_attest_revoked(struct store_conn *c, const char *ek_hash, long long *n);

/* The individual TPM enrollments that may pin ek_b64: those pinning these
 * very bytes, and the one whose registration ID is derived_id (the EK's
 * base32 SHA-256, which an operator may pin the same key under in another
 * encoding). The caller compares keys. */
enum store_qs store_select_dps_tpm_individuals(struct store_conn *c, const char *ek_b64,
					       const char *derived_id,
					       struct store_dps_enrollment_list *out);

#endif
