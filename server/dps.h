/* DPS-compatible provisioning, shared by its handlers and the device SAS
 * authentication kind: the ID scope, the assigned hub, api-versions, and
 * matching a device's SAS to an enrollment's key. */
#ifndef ORCHARD_DPS_H
#define ORCHARD_DPS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/errors_gen.h"

struct server;
struct request;

/* Reads the ID scope from the database into srv->id_scope, storing
 * cfg.id_scope or, without one, a new "0ne" + 8 upper-case hex digits
 * first. 0, or -1 after logging. */
int dps_id_scope_init(struct server *srv);

/* Whether s looks like an ID scope we would make or accept. */
bool dps_id_scope_valid(const char *s);

/* The assignedHub: --dps-hub, else the first listen host. */
void dps_hub_host(const struct server *srv, char *out, size_t len);

/* Whether the request's api-version query argument is one DPS clients
 * send; replies 400 and returns false when not. */
bool dps_api_version_ok(struct request *req, int *ret);

/* AUTH_DEVICE_SAS: the Authorization header's SAS must name the path's
 * {idScope} (params[0]) and {registrationId} (params[1]), be unexpired and
 * not future-dated, and be signed with the individual enrollment's primary
 * or secondary key (a TPM enrollment: the pending authenticationKey) or,
 * when there is no individual enrollment, with a key derived from a
 * symmetric-key group's or a TPM group's pending authenticationKey.
 * Without Authorization, a TLS client certificate whose CN is the
 * registration ID, pinned by the individual enrollment or chaining to an
 * X.509 group's signing certificate, authenticates too. Fills req->dev. With DEVICE_CHALLENGE in
 * arg, a request without Authorization passes unauthenticated (req->dev.authenticated false): the
 * handler answers it (the TPM flow's 401). */
bool dps_device_check(struct request *req, unsigned arg, enum err_code *err);

struct store_twin;
struct store_dps_registration;
struct store_dps_enrollment;
struct dps_sas;

/* Whether tok is signed with the device key enrollment e gives
 * registration_id: an individual's primary or secondary key, or a
 * symmetric-key group's key derived for registration_id. Shared by DPS
 * registration and the IoT Hub device credential (server/hub_auth.c). */
bool dps_sas_enrollment_signed(const struct store_dps_enrollment *e, const char *registration_id,
			       const struct dps_sas *tok);

/* A tpm or x509 enrollment's attestation parameters as JSON (a new
 * reference), NULL when it has none. */
json_t *dps_attestation_params(const struct store_dps_enrollment *e);

/* Azure's registrationState (DeviceRegistrationState) for row r. */
json_t *dps_registration_state_json(const struct store_dps_registration *r);

/* Checks an enrollment's initialTwin against the twin limits: NULL, or
 * why not (into why, len bytes, naming the member). */
const char *dps_initial_twin_problem(const json_t *twin, char *why, size_t len);

/* The twin an assigned device starts with: initialTwin's tags and desired
 * properties (initial_twin_json may be NULL), into *row (owned strings,
 * store_twin_free()). 0, or -1 when out of memory or over a limit. */
int dps_twin_seed(const char *device_id, const char *initial_twin_json, struct store_twin *row);

/* Inside a transaction: gives device_id its twin, seeded with
 * initial_twin_json (may be NULL). A twin that exists is kept, unless
 * reset (reprovisioning without migrateDeviceData): then its tags and
 * desired properties become the seed's, reported ones are emptied, and its
 * versions go on increasing. Either is recorded in the twin's history as
 * DPS's (actor: registration_id). STORE_ONE, or an error. */
struct store_conn;
enum store_qs;
enum store_qs dps_twin_place(struct store_conn *c, const char *device_id,
			     const char *initial_twin_json, bool reset,
			     const char *registration_id);

/* Azure's enrollment JSON for e (individualEnrollment or enrollmentGroup),
 * without keys: what a custom allocation webhook is sent. */
json_t *dps_enrollment_public_json(const struct store_dps_enrollment *e);

/* Queues body (stolen) as Azure's JSON (application/json; charset=utf-8)
 * with an ETag header carrying etag quoted (when not NULL), Cache-Control:
 * no-store when it holds keys (secret), and Retry-After when set. */
int dps_reply(struct request *req, unsigned status, json_t *body, const char *etag, bool secret,
	      const char *retry_after);

/* The If-Match header without quotes or a weak prefix into out; NULL when
 * absent. */
const char *dps_if_match(struct request *req, char *out, size_t len);

/* The service API's queries: page size (x-ms-max-item-count, 1 to
 * DPS_PAGE_MAX, default DPS_PAGE_DEFAULT) and where to go on
 * (x-ms-continuation: base64url of the last ID of the page before). */
#define DPS_PAGE_DEFAULT 100
#define DPS_PAGE_MAX 1000
struct dps_page {
	int limit;
	char after[129]; /* "" for the first page */
};

/* Reads the paging headers and the query specification body ({"query":
 * "*"} or "SELECT * FROM x"; no filters). Replies 400 and returns false
 * when they are bad. */
bool dps_page_args(struct request *req, struct dps_page *pg, int *ret);

/* Queues one page of a query's rows, read with pg->limit + 1 as their
 * limit (n of them): item(rows, i) renders one (a new reference), and when
 * there were more than the limit, x-ms-continuation names the last shown
 * (id(rows, i)); the last page has none. */
int dps_reply_rows(struct request *req, const struct dps_page *pg, const void *rows, int n,
		   json_t *(*item)(const void *rows, int i),
		   const char *(*id)(const void *rows, int i));

/* A certificate chain in PEM (leaf first) as Azure's
 * issuedCertificateChain: a JSON array of base64 DER, as text (malloc'd);
 * NULL when out of memory or there is no certificate. */
char *dps_chain_json(const char *chain_pem);

/* A new etag or operation ID: n random bytes in lower-case hex. 0 or -1. */
int dps_random_hex(char *out, size_t n);

#endif
