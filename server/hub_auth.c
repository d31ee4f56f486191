/* The twin API's device credentials, one table of credential kinds: IoT
 * Hub's device SAS now; the X.509 client certificate (the DPS work's
 * certificate checks) and TPM hub keys join as rows of `creds` below and
 * cases of key_signed(), and the route table does not change. */
#include "server/hub_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/dps.h"
#include "server/dps_sas.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/twins.h"

struct hub_lookup {
	const char *device_id;
	struct store_hub_device row;
};

static enum store_qs lookup_cb(struct store_conn *c, void *cls)
{
	struct hub_lookup *l = cls;

	store_hub_device_free(&l->row);
	return store_select_hub_device(c, l->device_id, &l->row);
}

/* Whether tok is signed with the device's key. Symmetric keys only so far:
 * a TPM enrollment's hub key (the authenticationKey DPS hands a TPM device)
 * is the seam's next case; until then such a device is refused. */
static bool key_signed(const struct store_hub_device *d, const struct dps_sas *tok)
{
	if (strcmp(d->enrollment.attestation_type, "symmetricKey") == 0)
		return dps_sas_enrollment_signed(&d->enrollment, d->registration_id, tok);
	return false; /* "tpm": hub keys not built yet; "x509": a certificate, not a SAS */
}

int hub_sas_verify(struct server *srv, const char *authz, const char *device_id, struct device *dev,
		   enum err_code *err)
{
	struct hub_lookup l = {.device_id = device_id};
	struct dps_sas tok;
	char named[sizeof tok.sr];
	const char *why = NULL;
	enum store_qs qs;
	int ok = -1;

	memset(dev, 0, sizeof *dev);
	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (dps_sas_parse(authz, &tok, &why) != 0 || tok.skn[0] != '\0' ||
	    !sas_expiry_ok(&tok, (long long)time(NULL)) ||
	    hub_sas_device_id(&tok, named, sizeof named) != 0)
		return -1;
	if (strcmp(named, device_id) != 0) {
		*err = ERR_TWIN_DEVICE_FORBIDDEN; /* a device never reads another's twin */
		return -1;
	}
	qs = store_run(srv->store, lookup_cb, &l);
	if (qs < 0) {
		*err = ERR_DB_UNAVAILABLE;
	} else if (qs == STORE_NONE || strcmp(l.row.status, "assigned") != 0) {
		*err = ERR_TWIN_DEVICE_UNKNOWN;
	} else if (strcmp(l.row.enrollment.provisioning_status, "enabled") == 0 &&
		   key_signed(&l.row, &tok)) {
		snprintf(dev->device_id, sizeof dev->device_id, "%s", device_id);
		snprintf(dev->registration_id, sizeof dev->registration_id, "%s",
			 l.row.registration_id);
		snprintf(dev->enrollment_kind, sizeof dev->enrollment_kind, "%s",
			 l.row.enrollment.kind);
		snprintf(dev->enrollment_id, sizeof dev->enrollment_id, "%s", l.row.enrollment.id);
		dev->authenticated = true;
		ok = 0;
	}
	store_hub_device_free(&l.row);
	return ok;
}

static bool check_sas(struct request *req, const char *authz, enum err_code *err)
{
	return hub_sas_verify(req->srv, authz, req->params[0], &req->dev, err) == 0;
}

/* The credential kinds, tried by what the request carries. */
static const struct {
	const char *scheme; /* Authorization scheme */
	bool (*check)(struct request *req, const char *authz, enum err_code *err);
} creds[] = {
	{"SharedAccessSignature ", check_sas},
	/* X.509 client certificate: a row whose check reads the TLS peer chain. */
};

bool hub_device_check(struct request *req, enum err_code *err)
{
	const char *authz = request_header(req, "Authorization");

	memset(&req->dev, 0, sizeof req->dev);
	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (req->nparams < 1 || authz == NULL)
		return false;
	for (size_t i = 0; i < sizeof creds / sizeof creds[0]; i++)
		if (strncasecmp(authz, creds[i].scheme, strlen(creds[i].scheme)) == 0)
			return creds[i].check(req, authz, err);
	return false;
}
