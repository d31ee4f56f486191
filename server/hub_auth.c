/* The twin API's device credentials, one table of credential kinds: IoT
 * Hub's device SAS (symmetric keys and TPM hub keys, key_signed()), and TLS
 * client certificates: Orchard's own device certificates (pki_device_cert()
 * and the certificates table) or those of a device whose DPS registration
 * used x509 attestation (the DPS work's checks in server/client_cert.c). */
#include "server/hub_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pki/pki.h"
#include "server/dps.h"
#include "server/client_cert.h"
#include "server/dps_sas.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/pki.h"
#include "server/store/twins.h"

struct hub_lookup {
	const char *device_id;
	const char *serial; /* an Orchard certificate to read too, or NULL */
	struct store_hub_device row;
	struct store_cert cert;
	enum store_qs cert_qs;
};

static enum store_qs lookup_cb(struct store_conn *c, void *cls)
{
	struct hub_lookup *l = cls;
	enum store_qs qs;

	store_hub_device_free(&l->row);
	store_cert_free(&l->cert);
	l->cert_qs = STORE_NONE;
	qs = store_select_hub_device(c, l->device_id, &l->row);
	if (qs == STORE_ONE && l->serial != NULL &&
	    (l->cert_qs = store_select_certificate(c, l->serial, &l->cert)) < 0)
		return l->cert_qs;
	return qs;
}

/* Whether tok is signed with the device's key: a symmetric-key
 * enrollment's (or its group's derived) key, or a TPM device's hub key, the
 * one its last DPS registration handed it encrypted to its TPM
 * (registrationState.tpm.authenticationKey; kept in dps_registrations). */
static bool key_signed(const struct store_hub_device *d, const struct dps_sas *tok)
{
	if (strcmp(d->enrollment.attestation_type, "symmetricKey") == 0)
		return dps_sas_enrollment_signed(&d->enrollment, d->registration_id, tok);
	if (strcmp(d->enrollment.attestation_type, "tpm") == 0)
		return d->device_key != NULL && dps_sas_signed_with(tok, d->device_key);
	return false; /* "x509": a certificate, not a SAS */
}

/* What a credential proves once the device is known: whether it is this
 * device's; when not, *why may say 403 instead of the default 401. */
typedef bool (*hub_proof)(const struct hub_lookup *l, const void *cred, enum err_code *why);

/* Looks up device_id (and the certificate serial, when not NULL) and, when
 * its registration is assigned and its enrollment enabled, asks proof;
 * fills *dev when it holds. Any transport. */
static bool device_proves(struct server *srv, const char *device_id, const char *serial,
			  struct device *dev, hub_proof proof, const void *cred, enum err_code *err)
{
	struct hub_lookup l = {.device_id = device_id, .serial = serial};
	enum store_qs qs = store_run(srv->store, lookup_cb, &l);
	bool ok = false;

	memset(dev, 0, sizeof *dev);
	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (qs < 0) {
		*err = ERR_DB_UNAVAILABLE;
	} else if (qs == STORE_NONE || strcmp(l.row.status, "assigned") != 0) {
		*err = ERR_TWIN_DEVICE_UNKNOWN;
	} else if (strcmp(l.row.enrollment.provisioning_status, "enabled") == 0 &&
		   proof(&l, cred, err)) {
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
	store_cert_free(&l.cert);
	return ok;
}

static bool sas_proof(const struct hub_lookup *l, const void *cred, enum err_code *why)
{
	(void)why;
	return key_signed(&l->row, cred);
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
	if (device_id == NULL)
		device_id = named; /* DEVICE_SELF: whichever device it names */
	else if (strcmp(named, device_id) != 0) {
		*err = ERR_TWIN_DEVICE_FORBIDDEN; /* a device never reads another's twin */
		return -1;
	}
	return device_proves(srv, device_id, NULL, dev, sas_proof, &tok, err) ? 0 : -1;
}

/* The device the path names, or NULL on a DEVICE_SELF route. */
static const char *path_device(const struct request *req)
{
	return req->route->auth.arg & DEVICE_SELF ? NULL : req->params[0];
}

static bool check_sas(struct request *req, const char *authz, enum err_code *err)
{
	return hub_sas_verify(req->srv, authz, path_device(req), &req->dev, err) == 0;
}

/* A DPS X.509 device: its registration's enrollment attests with x509, the
 * leaf's CN is the registration ID (as at DPS registration), and the
 * individual enrollment pins the leaf (SHA-256 thumbprint, within its
 * validity) or the chain verifies now up to the group's signing CA. */
static bool x509_proof(const struct hub_lookup *l, const void *cred, enum err_code *why_err)
{
	STACK_OF(X509) *chain = (STACK_OF(X509) *)cred;
	const struct store_hub_device *d = &l->row;
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
	(void)why_err;
	return ok;
}

/* An Orchard-issued device certificate (pki_device_cert() checked chain,
 * time and purpose): recorded and not revoked, and naming the registration
 * of this device; another registration's is a 403. cred: the registration
 * ID the certificate names. */
static bool orchard_cert_proof(const struct hub_lookup *l, const void *cred, enum err_code *why)
{
	if (l->cert_qs != STORE_ONE || l->cert.revoked_at != 0)
		return false;
	if (strcmp(cred, l->row.registration_id) == 0)
		return true;
	*why = ERR_TWIN_DEVICE_FORBIDDEN;
	return false;
}

/* The registration ID an Orchard device certificate names: its
 * PermanentIdentifier (ACME device-attest-01, the device-client profile),
 * else the URI DPS puts in the certificates it issues. NULL for none (an
 * ACME certificate for DNS names or addresses names no device). */
static const char *orchard_cert_names(const char *pid, const char *uri)
{
	static const char dps_uri[] = "urn:orchard:dps:";

	if (pid[0] != '\0')
		return pid;
	if (strncmp(uri, dps_uri, sizeof dps_uri - 1) == 0 && uri[sizeof dps_uri - 1] != '\0')
		return uri + sizeof dps_uri - 1;
	return NULL;
}

int hub_x509_verify(struct server *srv, STACK_OF(X509) * chain, const char *device_id,
		    struct device *dev, enum err_code *err)
{
	char serial[33], pid[DPS_ID_MAX + 1], uri[DPS_ID_MAX + 32];
	char cn[CLIENT_CERT_CN_MAX + 1];
	const char *regid;
	int rc;

	memset(dev, 0, sizeof *dev);
	*err = ERR_TWIN_DEVICE_UNAUTHORIZED;
	if (chain == NULL || sk_X509_num(chain) < 1)
		return -1;
	rc = srv->ca ? pki_device_cert(srv->ca, chain, serial, pid, sizeof pid, uri, sizeof uri)
		     : 1;
	if (rc <= 0) { /* Orchard's own: it decides alone */
		if (rc < 0 || (regid = orchard_cert_names(pid, uri)) == NULL)
			return -1;
		/* DEVICE_SELF: the device named as its registration (DPS's default) */
		return device_proves(srv, device_id ? device_id : regid, serial, dev,
				     orchard_cert_proof, regid, err)
			       ? 0
			       : -1;
	}
	if (client_cert_cn(sk_X509_value(chain, 0), cn, sizeof cn) != 0)
		return -1;
	if (device_id == NULL) {
		device_id = cn; /* DEVICE_SELF */
	} else if (strcmp(cn, device_id) != 0) {
		*err = ERR_TWIN_DEVICE_FORBIDDEN;
		return -1;
	}
	return device_proves(srv, device_id, NULL, dev, x509_proof, chain, err) ? 0 : -1;
}

/* A request without Authorization but with a TLS client certificate (or,
 * from the configured TLS-terminating proxy, X-Client-Cert). */
static bool check_x509(struct request *req, enum err_code *err)
{
	STACK_OF(X509) *chain = client_cert_chain(req->conn);
	int rc;

	if (chain == NULL)
		chain = client_cert_chain_proxied(req->conn, req->srv->cfg.dps_cert_proxy);
	rc = hub_x509_verify(req->srv, chain, path_device(req), &req->dev, err);
	client_cert_chain_free(chain);
	return rc == 0;
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
	if (req->nparams < 1 && path_device(req) != NULL)
		return false;
	if (authz == NULL)
		return check_x509(req, err);
	for (size_t i = 0; i < sizeof creds / sizeof creds[0]; i++)
		if (strncasecmp(authz, creds[i].scheme, strlen(creds[i].scheme)) == 0)
			return creds[i].check(req, authz, err);
	return false;
}
