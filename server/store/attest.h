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

/* device-attest-01: the standing of AK certificate serial: *known when
 * Orchard issued it, *revoked how many AK certificates of its EK are
 * revoked (it or another), *enabled whether the enrollment it was issued
 * under still exists and is enabled, *policy_name that enrollment
 * ("individual/<id>", "group/<id>") and *policy its quote gate's policy
 * (JSON text, NULL without one); the caller frees both. */
enum store_qs store_select_attest_ak_standing(struct store_conn *c, const char *serial, bool *known,
					      long long *revoked, bool *enabled, char **policy_name,
					      char **policy);

/* device-attest-01 with an AK certificate from an external root: the
 * standing of the device registration_id. *known when an individual
 * enrollment has that registration ID or a device registered with it
 * (through a group); *revoked how many AK certificates Orchard issued for
 * that registration ID are revoked; *enabled, *policy_name, *policy as
 * store_select_attest_ak_standing, for that enrollment. */
enum store_qs store_select_attest_ext_standing(struct store_conn *c, const char *registration_id,
					       bool *known, long long *revoked, bool *enabled,
					       char **policy_name, char **policy);

/* The quote gate's policy (a verifier PCR policy document, JSON text) of
 * enrollment kind ("individual", "group") id: set, or read into *policy
 * (the caller frees; STORE_NONE without one). */
enum store_qs store_upsert_attest_policy(struct store_conn *c, const char *kind, const char *id,
					 const char *policy);
enum store_qs store_select_attest_policy(struct store_conn *c, const char *kind, const char *id,
					 char **policy);

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
