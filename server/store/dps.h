/* Queries on DPS enrollments, registrations and settings, as typed rows.
 * Each takes a handle, so several share one transaction; rendering (Azure's
 * JSON shapes) is the handlers'. */
#ifndef ORCHARD_STORE_DPS_H
#define ORCHARD_STORE_DPS_H
#include <stdbool.h>

#include "server/store/store.h"

/* The two kinds of enrollment, as the kind column holds them. */
#define STORE_DPS_INDIVIDUAL "individual"
#define STORE_DPS_GROUP "group"

/* One enrollment. Times are seconds since the epoch. Rows filled by a query
 * own their strings: store_dps_enrollment_free(). */
struct store_dps_enrollment {
	char *kind; /* STORE_DPS_INDIVIDUAL or STORE_DPS_GROUP */
	char *id;   /* registrationId or enrollmentGroupId */
	char *attestation_type;
	char *primary_key, *secondary_key; /* base64; NULL unless symmetricKey */
	char *provisioning_status;	   /* "enabled" or "disabled" */
	char *device_id;		   /* NULL: the registrationId */
	char *iot_hub_host_name;	   /* NULL: the configured hub */
	char *initial_twin_json;	   /* NULL when none */
	char *capabilities_json;	   /* NULL when none */
	char *etag;
	long long created_at, updated_at;
	char *attestation_params_json; /* tpm and x509: what is pinned or trusted (NULL: none) */
	char *allocation_json; /* allocation policy, hubs, webhook, reprovision (NULL: none) */
};
void store_dps_enrollment_free(struct store_dps_enrollment *e);

/* Fetches one enrollment into *out (zeroed first). */
enum store_qs store_select_dps_enrollment(struct store_conn *c, const char *kind, const char *id,
					  struct store_dps_enrollment *out);

/* Inside a transaction: the same, holding the row against other writers
 * until the transaction ends. */
enum store_qs store_lock_dps_enrollment(struct store_conn *c, const char *kind, const char *id,
					struct store_dps_enrollment *out);

/* Creates or replaces e (every field but the times is read; the caller
 * keeps its strings) and announces "kind id" on EVENTS_DPS_ENROLLMENT.
 * A replacement keeps created_at. created and updated receive the times. */
enum store_qs store_upsert_dps_enrollment(struct store_conn *c,
					  const struct store_dps_enrollment *e, long long *created,
					  long long *updated);

/* Deletes an enrollment when etag is NULL, "*" or matching, announcing
 * it. STORE_NONE when nothing matched (absent, or another etag). */
enum store_qs store_delete_dps_enrollment(struct store_conn *c, const char *kind, const char *id,
					  const char *etag);

/* Every enrollment group of one attestation type ("symmetricKey", "tpm",
 * "x509"), for matching a device's key or certificate. */
struct store_dps_enrollment_list {
	struct store_dps_enrollment *items;
	int n;
};
void store_dps_enrollment_list_free(struct store_dps_enrollment_list *l);
enum store_qs store_select_dps_groups(struct store_conn *c, const char *attestation_type,
				      struct store_dps_enrollment_list *out);

/* For a device SAS: the individual enrollment of registration_id first
 * (when there is one), then every symmetric-key group, in one query. */
enum store_qs store_select_dps_sas_candidates(struct store_conn *c, const char *registration_id,
					      struct store_dps_enrollment_list *out);

/* Up to limit enrollments of kind with an id after `after` ("" for the
 * first page), in id order. */
enum store_qs store_select_dps_enrollment_page(struct store_conn *c, const char *kind,
					       const char *after, int limit,
					       struct store_dps_enrollment_list *out);

/* The authenticationKey a TPM device was sent, pending its signed request. */
struct store_dps_tpm_challenge {
	char *registration_id;
	char *enrollment_kind, *enrollment_id;
	char *auth_key;				  /* base64 HMAC key (secret) */
	char *endorsement_key, *storage_root_key; /* base64 TPM2B_PUBLIC, as sent */
};
void store_dps_tpm_challenge_free(struct store_dps_tpm_challenge *t);

/* Records t (replacing any earlier challenge of its registration ID),
 * valid for ttl_s seconds; drops challenges expired for a day. */
enum store_qs store_upsert_dps_tpm_challenge(struct store_conn *c,
					     const struct store_dps_tpm_challenge *t, int ttl_s);

/* The unexpired challenge of registration_id into *out (zeroed first). */
enum store_qs store_select_dps_tpm_challenge(struct store_conn *c, const char *registration_id,
					     struct store_dps_tpm_challenge *out);

/* A device's registration state. */
struct store_dps_registration {
	char *registration_id;
	char *device_id;
	char *enrollment_kind, *enrollment_id;
	char *status; /* assigning, assigned, failed, disabled */
	char *substatus;
	char *assigned_hub; /* NULL unless assigned */
	char *operation_id;
	char *etag;
	char *payload_json;
	int error_code; /* 0: none */
	char *error_message;
	long long created_at, updated_at;
	char *tpm_authentication_key; /* TPM devices: base64 blob holding device_key */
	char *device_key;	      /* TPM devices: base64 HMAC key (secret) */
	char *issued_chain_json;      /* a JSON array of base64 DER certificates, or NULL */
};
void store_dps_registration_free(struct store_dps_registration *r);

/* Records a registration (inserted, or the existing row updated in place:
 * one row per registration ID however many register at once; created_at
 * kept) and announces its registration ID on EVENTS_DPS_REGISTRATION. Reads
 * every string field of r; *out receives the row as stored. */
enum store_qs store_upsert_dps_registration(struct store_conn *c,
					    const struct store_dps_registration *r,
					    struct store_dps_registration *out);

/* Inside a transaction: the registration state of registration_id FOR
 * UPDATE (concurrent registrations of one ID take turns). */
enum store_qs store_lock_dps_registration(struct store_conn *c, const char *registration_id,
					  struct store_dps_registration *out);

/* Ends the assigning operation r->operation_id of r->registration_id with
 * r's status, substatus, assigned_hub, payload_json, error_code,
 * error_message and etag, announcing it. STORE_NONE when that operation is
 * no longer assigning (the device registered again meanwhile). */
enum store_qs store_finish_dps_registration(struct store_conn *c,
					    const struct store_dps_registration *r,
					    struct store_dps_registration *out);

/* Deletes a registration state when etag is NULL, "*" or matching,
 * announcing it. STORE_NONE when nothing matched. The device's twin stays. */
enum store_qs store_delete_dps_registration(struct store_conn *c, const char *registration_id,
					    const char *etag);

enum store_qs store_select_dps_registration(struct store_conn *c, const char *registration_id,
					    struct store_dps_registration *out);

/* Up to limit registration states of enrollment group group_id's devices
 * with a registration ID after `after` ("" first), in that order. */
struct store_dps_registration_list {
	struct store_dps_registration *items;
	int n;
};
void store_dps_registration_list_free(struct store_dps_registration_list *l);
enum store_qs store_select_dps_registration_page(struct store_conn *c, const char *group_id,
						 const char *after, int limit,
						 struct store_dps_registration_list *out);

/* The setting name: its value when set; else value, stored first. With
 * overwrite, value replaces whatever was stored. *out is malloc'd. */
enum store_qs store_upsert_dps_setting(struct store_conn *c, const char *name, const char *value,
				       bool overwrite, char **out);

/* Calls each with every device that enrollment (kind, id) registered, when
 * the enrollment is disabled or gone (none while it is enabled). */
enum store_qs store_select_dps_devices_off(struct store_conn *c, const char *kind, const char *id,
					   void (*each)(void *cls, const char *device_id),
					   void *cls);

#endif
