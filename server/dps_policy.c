/* Service SAS verification and the rights of shared access policies. */
#include "server/dps_policy.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/auth.h"
#include "server/dps_sas.h"
#include "server/request.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/store/dps_policies.h"

static const struct {
	const char *name;
	unsigned bit;
} rights[] = {
	{"ServiceConfig", DPS_RIGHT_SERVICE_CONFIG},
	{"EnrollmentRead", DPS_RIGHT_ENROLLMENT_READ},
	{"EnrollmentWrite", DPS_RIGHT_ENROLLMENT_WRITE},
	{"RegistrationStatusRead", DPS_RIGHT_REGISTRATION_READ},
	{"RegistrationStatusWrite", DPS_RIGHT_REGISTRATION_WRITE},
};

bool dps_policy_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > DPS_POLICY_NAME_MAX)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       n;
}

unsigned dps_rights_parse(const char *text, unsigned *bad)
{
	unsigned out = 0;
	const char *p = text;

	*bad = 0;
	while (*p != '\0') {
		size_t n;
		bool known = false;

		p += strspn(p, ", ");
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		for (size_t i = 0; i < sizeof rights / sizeof rights[0]; i++)
			if (strlen(rights[i].name) == n && strncasecmp(p, rights[i].name, n) == 0) {
				out |= rights[i].bit;
				known = true;
			}
		if (!known)
			(*bad)++;
		p += n;
	}
	return out;
}

void dps_rights_format(unsigned bits, char *out, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof rights / sizeof rights[0]; i++) {
		if (!(bits & rights[i].bit))
			continue;
		int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", rights[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

struct lookup {
	const char *name;
	struct store_dps_policy row;
};

static enum store_qs lookup_cb(struct store_conn *c, void *cls)
{
	struct lookup *l = cls;

	return store_select_dps_policy(c, l->name, &l->row);
}

static bool sas_check(struct request *req, const char *authz, unsigned need, enum err_code *err)
{
	struct dps_sas tok;
	const char *why = NULL;
	struct lookup l = {0};
	unsigned bad = 0, granted;
	bool p_ok, s_ok;
	enum store_qs qs;

	*err = ERR_DPS_UNAUTHORIZED;
	if (dps_sas_parse(authz, &tok, &why) != 0 || !dps_policy_name_valid(tok.skn) ||
	    !dps_sas_host_ok(&tok, request_header(req, MHD_HTTP_HEADER_HOST)) ||
	    !sas_expiry_ok(&tok, (long long)time(NULL)))
		return false;
	l.name = tok.skn;
	qs = store_run(req->srv->store, lookup_cb, &l);
	if (qs < 0) {
		*err = ERR_DPS_UNAVAILABLE;
		return false;
	}
	if (qs == STORE_NONE)
		return false;
	/* Both compared, each in constant time, whichever matches. */
	p_ok = dps_sas_signed_with(&tok, l.row.primary_key);
	s_ok = dps_sas_signed_with(&tok, l.row.secondary_key);
	granted = dps_rights_parse(l.row.rights, &bad);
	store_dps_policy_free(&l.row);
	if (!p_ok && !s_ok)
		return false;
	if ((granted & need) != need) {
		*err = ERR_DPS_FORBIDDEN;
		return false;
	}
	memset(&req->op, 0, sizeof req->op);
	snprintf(req->op.sub, sizeof req->op.sub, "policy:%s", tok.skn);
	snprintf(req->op.jti, sizeof req->op.jti, "sas");
	req->authenticated = true;
	return true;
}

bool dps_service_check(struct request *req, unsigned arg, enum err_code *err)
{
	static const char prefix[] = "SharedAccessSignature ";
	const char *authz = request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);

	if (authz != NULL && strncasecmp(authz, prefix, sizeof prefix - 1) == 0)
		return sas_check(req, authz, arg & DPS_RIGHTS_ALL, err);
	if (!auth_check(req->srv->auth, authz, arg & SCOPE_ALL, &req->op, err))
		return false;
	req->authenticated = true;
	return true;
}
