/* The DPS service API's shared access policies (Azure's service SAS):
 * "SharedAccessSignature sr={host}&sig=...&se=...&skn={policy}", signed
 * with one of the policy's two keys, grants the policy's rights, which map
 * onto the same route checks operator tokens pass (server/routes.h). */
#ifndef ORCHARD_DPS_POLICY_H
#define ORCHARD_DPS_POLICY_H
#include <stdbool.h>
#include <stddef.h>

#include "common/errors_gen.h"

struct request;

/* A policy name: 1-64 of [A-Za-z0-9._-] (nothing a client URL-encodes). */
#define DPS_POLICY_NAME_MAX 64
bool dps_policy_name_valid(const char *name);

/* Azure's rights ("EnrollmentRead, EnrollmentWrite": names separated by
 * commas and/or spaces, any case) as DPS_RIGHT_* bits; *bad counts words
 * that name no right. */
unsigned dps_rights_parse(const char *text, unsigned *bad);
/* The canonical text ("ServiceConfig, EnrollmentRead"), Azure's order. */
void dps_rights_format(unsigned rights, char *out, size_t len);

/* The route table's AUTH_DPS_SERVICE check: an operator bearer token
 * holding arg's scopes, or a service SAS of a policy holding arg's rights.
 * A SAS that does not verify is a 401 (ERR_DPS_UNAUTHORIZED), one whose
 * policy lacks a right a 403 (ERR_DPS_FORBIDDEN). */
bool dps_service_check(struct request *req, unsigned arg, enum err_code *err);

#endif
