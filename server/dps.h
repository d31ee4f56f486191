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
 * or secondary key or, when there is no individual enrollment, with a key
 * derived from a symmetric-key group's. Fills req->dev. */
bool dps_device_check(struct request *req, enum err_code *err);

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

/* Azure's registrationState (DeviceRegistrationState) for row r. */
json_t *dps_registration_state_json(const struct store_dps_registration *r);

/* Checks an enrollment's initialTwin against the twin limits: NULL, or
 * why not (into why, len bytes, naming the member). */
const char *dps_initial_twin_problem(const json_t *twin, char *why, size_t len);

/* The twin an assigned device starts with: initialTwin's tags and desired
 * properties (initial_twin_json may be NULL), into *row (owned strings,
 * store_twin_free()). 0, or -1 when out of memory or over a limit. */
int dps_twin_seed(const char *device_id, const char *initial_twin_json, struct store_twin *row);

/* Queues body (stolen) as Azure's JSON (application/json; charset=utf-8)
 * with an ETag header carrying etag quoted (when not NULL), Cache-Control:
 * no-store when it holds keys (secret), and Retry-After when set. */
int dps_reply(struct request *req, unsigned status, json_t *body, const char *etag, bool secret,
	      const char *retry_after);

/* The If-Match header without quotes or a weak prefix into out; NULL when
 * absent. */
const char *dps_if_match(struct request *req, char *out, size_t len);

/* A new etag or operation ID: n random bytes in lower-case hex. 0 or -1. */
int dps_random_hex(char *out, size_t n);

#endif
