/* The twin API's device credentials, one table of credential kinds: IoT
 * Hub's device SAS, and the X.509 client certificate of a device whose DPS
 * registration used x509 attestation (the DPS work's certificate checks in
 * server/client_cert.c). TPM hub keys join as a case of key_signed(), and
 * the route table does not change. */
#include "server/hub_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/dps.h"
#include "server/client_cert.h"
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

/* What a credential proves once the device is known: whether it is
 * this device's. */
typedef bool (*hub_proof)(const struct store_hub_device *d, const void *cred);

/* Looks up device_id and, when its registration is assigned and its
 * enrollment enabled, asks proof; fills *dev when it holds. Any transport. */
static bool device_proves(struct server *srv, const char *device_id, struct device *dev,
			  hub_proof proof, const void *cred, enum err_code *err)
{
	struct hub_lookup l = {.device_id = device_id};
	enum store_qs qs = store_run(srv->store, lookup_cb, &l);
	bool ok = false;

	memset(dev, 0, sizeof *dev);
	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (qs < 0) {
		*err = ERR_DB_UNAVAILABLE;
	} else if (qs == STORE_NONE || strcmp(l.row.status, "assigned") != 0) {
		*err = ERR_TWIN_DEVICE_UNKNOWN;
	} else if (strcmp(l.row.enrollment.provisioning_status, "enabled") == 0 &&
		   proof(&l.row, cred)) {
		snprintf(dev->device_id, sizeof dev->device_id, "%s", device_id);
		snprintf(dev->registration_id, sizeof dev->registration_id, "%s",
			 l.row.registration_id);
		snprintf(dev->enrollment_kind, sizeof dev->enrollment_kind, "%s",
			 l.row.enrollment.kind);
		snprintf(dev->enrollment_id, sizeof dev->enrollment_id, "%s", l.row.enrollment.id);
		dev->authenticated = true;
		ok = true;
	}
	store_hub_device_free(&l.row);
	return ok;
}

static bool sas_proof(const struct store_hub_device *d, const void *cred)
{
	return key_signed(d, cred);
}

int hub_sas_verify(struct server *srv, const char *authz, const char *device_id, struct device *dev,
		   enum err_code *err)
{
	const char *why = NULL;
	struct dps_sas tok;
	char named[sizeof tok.sr];

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
	return device_proves(srv, device_id, dev, sas_proof, &tok, err) ? 0 : -1;
}

static bool check_sas(struct request *req, const char *authz, enum err_code *err)
{
	return hub_sas_verify(req->srv, authz, req->params[0], &req->dev, err) == 0;
}

/* An X.509 device: its registration's enrollment attests with x509, the
 * leaf's CN is the registration ID (as at DPS registration), and the
 * individual enrollment pins the leaf (SHA-256 thumbprint, within its
 * validity) or the chain verifies now up to the group's signing CA. */
static bool x509_proof(const struct store_hub_device *d, const void *cred)
{
	STACK_OF(X509) *chain = (STACK_OF(X509) *)cred;
	char cn[CLIENT_CERT_CN_MAX + 1];
	const char *why = NULL;
	json_t *params;
	bool ok;

	if (strcmp(d->enrollment.attestation_type, "x509") != 0 ||
	    client_cert_cn(sk_X509_value(chain, 0), cn, sizeof cn) != 0 ||
	    strcmp(cn, d->registration_id) != 0 ||
	    (params = dps_attestation_params(&d->enrollment)) == NULL)
		return false;
	if (strcmp(d->enrollment.kind, STORE_DPS_INDIVIDUAL) == 0)
		ok = client_cert_pinned(sk_X509_value(chain, 0),
					json_object_get(params, "clientCertificates"));
	else
		ok = client_cert_chains(chain, json_object_get(params, "signingCertificates"),
					&why);
	json_decref(params);
	return ok;
}

/* A request without Authorization but with a TLS client certificate (or,
 * from the configured TLS-terminating proxy, X-Client-Cert): the leaf's CN
 * names the device; another device's CN than the path's is a 403. */
int hub_x509_verify(struct server *srv, STACK_OF(X509) * chain, const char *device_id,
		    struct device *dev, enum err_code *err)
{
	char cn[CLIENT_CERT_CN_MAX + 1];

	memset(dev, 0, sizeof *dev);
	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (chain == NULL || sk_X509_num(chain) < 1 ||
	    client_cert_cn(sk_X509_value(chain, 0), cn, sizeof cn) != 0)
		return -1;
	if (strcmp(cn, device_id) != 0) {
		*err = ERR_TWIN_DEVICE_FORBIDDEN;
		return -1;
	}
	return device_proves(srv, device_id, dev, x509_proof, chain, err) ? 0 : -1;
}

static bool check_x509(struct request *req, enum err_code *err)
{
	STACK_OF(X509) *chain = client_cert_chain(req->conn);
	bool ok;

	if (chain == NULL)
		chain = client_cert_chain_proxied(req->conn, req->srv->cfg.dps_cert_proxy);
	ok = hub_x509_verify(req->srv, chain, req->params[0], &req->dev, err) == 0;
	client_cert_chain_free(chain);
	return ok;
}

/* The credential kinds, tried by what the request carries. */
static const struct {
	const char *scheme; /* Authorization scheme */
	bool (*check)(struct request *req, const char *authz, enum err_code *err);
} creds[] = {
	{"SharedAccessSignature ", check_sas},
};

bool hub_device_check(struct request *req, enum err_code *err)
{
	const char *authz = request_header(req, "Authorization");

	memset(&req->dev, 0, sizeof req->dev);
	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (req->nparams < 1)
		return false;
	if (authz == NULL)
		return check_x509(req, err);
	for (size_t i = 0; i < sizeof creds / sizeof creds[0]; i++)
		if (strncasecmp(authz, creds[i].scheme, strlen(creds[i].scheme)) == 0)
			return creds[i].check(req, authz, err);
	return false;
}
