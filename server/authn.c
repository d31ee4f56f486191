/* The authentication kinds behind the route table's auth column, in one
 * table: a new kind (device SAS, client certificate, ACME JWS) is a row. */
#include "server/authn.h"

#include <microhttpd.h>

#include "server/acme.h"
#include "server/auth.h"
#include "server/dps.h"
#include "server/dps_policy.h"
#include "server/hub_auth.h"
#include "server/request.h"
#include "server/routes.h"
#include "server/server.h"

static bool check_public(struct request *req, unsigned arg, enum err_code *err)
{
	(void)req;
	(void)arg;
	(void)err;
	return true;
}

static bool check_operator(struct request *req, unsigned scopes, enum err_code *err)
{
	const char *authz = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_AUTHORIZATION);

	if (!auth_check(req->srv->auth, authz, scopes, &req->op, err))
		return false;
	req->authenticated = true;
	return true;
}

static bool check_device_sas(struct request *req, unsigned arg, enum err_code *err)
{
	return dps_device_check(req, arg, err);
}

static bool check_device_hub(struct request *req, unsigned arg, enum err_code *err)
{
	(void)arg;
	return hub_device_check(req, err);
}

static const struct {
	enum authn_stage stage;
	bool (*check)(struct request *req, unsigned arg, enum err_code *err);
	const char *challenge; /* WWW-Authenticate with this kind's 401s */
} kinds[] = {
	[AUTH_PUBLIC] = {AUTHN_HEADERS, check_public, NULL},
	[AUTH_OPERATOR] = {AUTHN_HEADERS, check_operator, "Bearer"},
	[AUTH_DEVICE_SAS] = {AUTHN_HEADERS, check_device_sas, NULL},
	[AUTH_DEVICE_HUB] = {AUTHN_HEADERS, check_device_hub, "SharedAccessSignature"},
	[AUTH_DPS_SERVICE] = {AUTHN_HEADERS, dps_service_check, "Bearer"},
	[AUTH_ACME_JWS] = {AUTHN_BODY, acme_authn_check, NULL},
};

enum authn_stage authn_stage(const struct route *r)
{
	return kinds[r->auth.kind].stage;
}

bool authn_check(struct request *req, enum err_code *err)
{
	const struct route_auth *a = &req->route->auth;

	if (kinds[a->kind].check(req, a->arg, err))
		return true;
	if (err_table[*err].http_status == 401)
		req->challenge = kinds[a->kind].challenge;
	return false;
}
