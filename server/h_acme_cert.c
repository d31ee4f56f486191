/* ACME issuance (RFC 8555 sections 7.4, 7.4.2, 7.6): finalize checks the
 * CSR against the order and issues under the order's profile, the
 * certificate is downloaded with POST-as-GET, and revokeCert revokes by
 * the holding account's kid or by the certificate's own key.
 *
 * Issuance runs inline, inside the finalize transaction, not as a job:
 * signing is about a millisecond of CPU and touches no network, so a job
 * would cost more (a suspend, a queue, a resume, a poll by the client)
 * than it saves, and inline the order goes ready -> processing -> valid
 * under its row lock, so racing finalizers sign once. Clients see the
 * order valid in the finalize reply itself. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "acme/order.h"
#include "common/hex.h"
#include "common/log.h"
#include "pki/pki.h"
#include "server/acme.h"
#include "server/certs.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/spec.h"
#include "server/store/pki.h"

#define ACME_DEFAULT_PROFILE "tls-server"
#define ACME_SANS_MAX 100

/* The DER behind a base64url string (strict); NULL when it is not one.
 * The caller frees. */
static uint8_t *b64url_der(const char *text, size_t *len)
{
	return b64_decode(text, strlen(text), 1, len);
}

/* The SubjectPublicKeyInfo DER of a JWS key (malloc'd) or NULL. */
static uint8_t *key_spki(EVP_PKEY *pkey, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	uint8_t *out = NULL;

	if (n > 0 && (out = malloc((size_t)n)) != NULL) {
		memcpy(out, der, (size_t)n);
		*len = (size_t)n;
	}
	OPENSSL_free(der);
	return out;
}

static bool in_list(char **list, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], v) == 0)
			return true;
	return false;
}

/* Section 7.4: the CSR names exactly the order's identifiers. Fills sans
 * from the order (never from the CSR); NULL or what is wrong. A device
 * identifier (device-attest-01) is not in the CSR, which names no DNS or
 * IP for it: it becomes a PermanentIdentifier (value, assigner after the
 * '/') or HardwareModuleName SAN, split into parts; *devices counts them.
 * The CSR's CN may be such an identifier's id. */
static const char *csr_matches(const char *identifiers, const struct pki_csr_info *csr,
			       struct pki_san *sans, size_t *nsans, json_t **keep,
			       char (*parts)[ACME_IDENT_MAX], size_t *devices)
{
	json_t *ids = json_loads(identifiers, 0, NULL), *it;
	size_t i, ndns = 0, nips = 0;

	*keep = ids;
	*nsans = 0;
	if (!json_is_array(ids) || json_array_size(ids) > ACME_SANS_MAX)
		return "the order's identifiers are unreadable";
	json_array_foreach (ids, i, it) {
		const char *type = json_string_value(json_object_get(it, "type"));
		const char *value = json_string_value(json_object_get(it, "value"));
		bool ip = type != NULL && strcmp(type, "ip") == 0;

		if (value == NULL)
			return "the order's identifiers are unreadable";
		if (type != NULL && (strcmp(type, "permanent-identifier") == 0 ||
				     strcmp(type, "hardware-module") == 0)) {
			char *slash;
			snprintf(parts[*nsans], ACME_IDENT_MAX, "%s", value);
			slash = strchr(parts[*nsans], '/');
			if (slash != NULL)
				*slash++ = '\0';
			sans[*nsans].type =
				type[0] == 'p' ? PKI_SAN_PERMANENT_ID : PKI_SAN_HW_MODULE;
			sans[*nsans].value = parts[*nsans];
			sans[*nsans].assigner = slash;
			(*nsans)++;
			(*devices)++;
			continue;
		}
		if (!(ip ? in_list(csr->ips, csr->nips, value)
			 : in_list(csr->dns, csr->ndns, value)))
			return "the CSR does not name every identifier of the order";
		ip ? nips++ : ndns++;
		sans[*nsans].type = ip ? PKI_SAN_IP : PKI_SAN_DNS;
		sans[*nsans].value = value;
		sans[*nsans].assigner = NULL;
		(*nsans)++;
	}
	/* A CSR's CN may repeat a device identifier's id (as step-ca's
	 * clients send it); it names nothing else then. */
	for (size_t k = 0; *devices > 0 && k < csr->ndns; k++)
		for (size_t d = 0; d < *nsans; d++)
			if ((sans[d].type == PKI_SAN_PERMANENT_ID ||
			     sans[d].type == PKI_SAN_HW_MODULE) &&
			    strcmp(csr->dns[k], sans[d].value) == 0) {
				ndns++;
				break;
			}
	if (ndns != csr->ndns || nips != csr->nips)
		return "the CSR names an identifier that is not in the order";
	return NULL;
}

enum finalize_outcome { FIN_ISSUED, FIN_NOT_READY, FIN_REFUSED, FIN_FAILED };

struct finalize {
	struct server *srv;
	const char *order_id, *account_id, *profile;
	struct pki_issue_req ireq;
	struct pki_cert cert;
	enum pki_status pst;
	enum finalize_outcome outcome;
	char why[256];
	struct store_acme_order row;
};

/* The certificate is signed first, outside any transaction; then one
 * statement records it and moves the order ready -> valid
 * (pg_issue_acme_order.c). Of racing finalizers each may sign, one
 * records: the others' certificates are dropped unrecorded and unserved
 * (they answer orderNotReady), which costs a signature where the row lock
 * held across the signing cost four round trips on every finalize. The
 * order is "processing" only while its finalize request runs, which
 * nobody else sees, so the state is never stored. */
static enum store_qs finalize_cb(struct store_conn *c, void *cls)
{
	struct finalize *f = cls;
	struct store_cert row = {
		.serial = f->cert.serial,
		.sans = f->cert.sans_text,
		.key_type = f->cert.key_type,
		.profile = (char *)f->profile,
		.not_before = f->cert.not_before,
		.not_after = f->cert.not_after,
		.acme_account_id = (char *)f->account_id,
		.der = f->cert.der,
		.der_len = f->cert.der_len,
	};

	store_acme_order_free(&f->row);
	return store_issue_acme_order(c, f->order_id, &row, &f->row);
}

/* The CA could not sign: a ready order becomes invalid with the error. */
static enum store_qs finalize_failed_cb(struct store_conn *c, void *cls)
{
	struct finalize *f = cls;
	char err[400];
	json_t *p =
		json_pack("{s:s, s:s, s:i}", "type", "urn:ietf:params:acme:error:serverInternal",
			  "detail", "the CA could not issue the certificate", "status", 500);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;

	json_decref(p);
	snprintf(err, sizeof err, "%s", text ? text : "{}");
	free(text);
	return store_update_acme_order_status(c, f->order_id, "ready", "invalid", NULL, err, NULL);
}

struct attested {
	const char *order_id;
	char *spki;
	long long n, other;
};

static enum store_qs attested_cb(struct store_conn *c, void *cls)
{
	struct attested *a = cls;

	return store_select_acme_attested(c, a->order_id, a->spki, &a->n, &a->other);
}

/* Whether the CSR's key is the account's: by the JWK's point when the CSR's
 * bytes tell, else by the keys. */
static bool account_key_is(const struct pki_csr_info *csr, const struct acme_jwk *key)
{
	int same = key->point_len > 0
			   ? pki_csr_key_is_ec_point(csr, key->group, key->point, key->point_len)
			   : -1;

	return same < 0 ? pki_csr_key_equals(csr, key->pkey) == 1 : same == 1;
}

/* MHD_YES + 1 when every device authorization of order_id attested the
 * CSR's key; otherwise the queued refusal. */
static int attested_check(struct request *req, const char *order_id, const struct pki_csr_info *csr)
{
	struct attested a = {order_id, malloc(2 * csr->spki_len + 3), 0, 0};
	enum store_qs qs;

	if (a.spki == NULL)
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, "no memory");
	a.spki[0] = '\\';
	a.spki[1] = 'x';
	hex_encode(csr->spki, csr->spki_len, a.spki + 2);
	qs = store_run(req->srv->store, attested_cb, &a);
	free(a.spki);
	if (qs != STORE_ONE)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (a.n == 0 || a.other > 0)
		return reply_problem(req, ERR_ACME_BAD_CSR,
				     "the CSR's key is not the key the TPM attested");
	return MHD_YES + 1;
}

int h_acme_finalize(struct request *req)
{
	const char *csr_text = NULL;
	struct json_spec spec[] = {
		json_spec_string("csr", &csr_text, 16384, 0),
		json_spec_end(),
	};
	struct store_acme_order order = {0};
	struct pki_csr_info csr = {0};
	struct finalize f = {0};
	struct pki_san sans[ACME_SANS_MAX];
	char parts[ACME_SANS_MAX][ACME_IDENT_MAX];
	size_t csr_len = 0, nsans = 0, devices = 0;
	uint8_t *csr_der = NULL;
	json_t *ids = NULL;
	const char *bad;
	char why[256] = "";
	enum spec_status st;
	enum store_qs qs;
	int ret = MHD_NO;

	if (!acme_order_load(req, &order, &ret))
		return ret;
	/* Section 7.4: only a ready order is finalized; one that is
	 * processing or valid already (a second finalize) is not. */
	if (strcmp(order.status, "ready") != 0) {
		ret = reply_problem(req, ERR_ACME_ORDER_NOT_READY, "the order is %s, not ready",
				    order.status);
		goto out;
	}
	if (req->acme->post_as_get) {
		ret = reply_problem(req, ERR_ACME_MALFORMED, "finalize needs {\"csr\": ...}");
		goto out;
	}
	if ((st = spec_parse_body(req, spec)) != SPEC_OK) {
		ret = SPEC_HANDLER_RESULT(st);
		goto out;
	}
	if ((csr_der = b64url_der(csr_text, &csr_len)) == NULL) {
		ret = reply_problem(req, ERR_ACME_MALFORMED, "\"csr\" is not base64url");
		goto out;
	}
	if (pki_csr_inspect(csr_der, csr_len, &csr, why, sizeof why) != PKI_OK) {
		ret = reply_problem(req, ERR_ACME_BAD_CSR, "%s", why);
		goto out;
	}
	if ((bad = csr_matches(order.identifiers, &csr, sans, &nsans, &ids, parts, &devices)) !=
	    NULL) {
		ret = reply_problem(req, ERR_ACME_BAD_CSR, "%s", bad);
		goto out;
	}
	/* device-attest-01: the CSR's key is the one the TPM attested. */
	if (devices > 0 && (ret = attested_check(req, order.id, &csr)) != MHD_YES + 1)
		goto out;
	/* Section 11.1: the certificate's key is not the account's. */
	if (account_key_is(&csr, &req->acme->key)) {
		ret = reply_problem(req, ERR_ACME_BAD_CSR,
				    "the CSR's key is the account key: use another");
		goto out;
	}
	if (req->srv->ca == NULL) {
		ret = reply_problem(req, ERR_ACME_SERVER_INTERNAL, "no CA");
		goto out;
	}
	f.srv = req->srv;
	f.order_id = order.id;
	f.account_id = order.account_id;
	f.profile = order.profile ? order.profile : ACME_DEFAULT_PROFILE;
	f.ireq = (struct pki_issue_req){.csr_der = csr_der,
					.csr_len = csr_len,
					.sans = sans,
					.nsans = nsans,
					.profile = f.profile,
					.csr = &csr};
	f.pst = pki_issue(f.srv->ca, &f.ireq, &f.cert, f.why, sizeof f.why);
	if (f.pst == PKI_ERR_CSR || f.pst == PKI_ERR_SIGNATURE || f.pst == PKI_ERR_KEY_TYPE ||
	    f.pst == PKI_ERR_SAN) {
		f.outcome = FIN_REFUSED; /* nothing stored: the order stays ready */
		qs = STORE_NONE;
	} else if (f.pst != PKI_OK) {
		f.outcome = FIN_FAILED;
		qs = store_run(req->srv->store, finalize_failed_cb, &f);
	} else {
		f.outcome = FIN_ISSUED;
		qs = store_run(req->srv->store, finalize_cb, &f);
	}
	if (qs == STORE_NONE && f.outcome != FIN_REFUSED)
		f.outcome = FIN_NOT_READY;
	if (f.outcome == FIN_REFUSED)
		ret = reply_problem(req, ERR_ACME_BAD_CSR, "%s", f.why);
	else if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (f.outcome == FIN_NOT_READY)
		ret = reply_problem(req, ERR_ACME_ORDER_NOT_READY, "the order is no longer ready");
	else if (f.outcome == FIN_FAILED) {
		log_kv(LOG_ERROR, "ACME issuance failed", "order", order.id, "error", f.why, NULL);
		ret = reply_problem(req, ERR_ACME_SERVER_INTERNAL,
				    "the CA could not issue the certificate; the order is invalid");
	} else {
		log_kv(LOG_INFO, "ACME certificate issued", "order", order.id, "serial",
		       f.cert.serial, "profile", f.profile, NULL);
		ret = acme_reply_order(req, 200, &f.row);
	}
out:
	pki_cert_free(&f.cert);
	store_acme_order_free(&f.row);
	store_acme_order_free(&order);
	pki_csr_info_free(&csr);
	json_decref(ids);
	free(csr_der);
	json_spec_free(spec);
	return ret;
}

/* A serial as the path gives it: 32 lower-case hex digits. */
static bool serial_ok(const char *s)
{
	size_t n = strlen(s);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* PEM of base64 that PostgreSQL wrapped at 76: rewrapped at 64. */
static bool pem_append(char *out, size_t cap, size_t *off, const char *b64)
{
	size_t col = 0;
	int n = snprintf(out + *off, cap - *off, "-----BEGIN CERTIFICATE-----\n");

	if (n < 0 || (size_t)n >= cap - *off)
		return false;
	*off += (size_t)n;
	for (const char *p = b64; *p; p++) {
		if (*p == '\n' || *p == '\r')
			continue;
		if (*off + 3 >= cap)
			return false;
		out[(*off)++] = *p;
		if (++col == 64) {
			out[(*off)++] = '\n';
			col = 0;
		}
	}
	if (col != 0)
		out[(*off)++] = '\n';
	n = snprintf(out + *off, cap - *off, "-----END CERTIFICATE-----\n");
	if (n < 0 || (size_t)n >= cap - *off)
		return false;
	*off += (size_t)n;
	return true;
}

/* POST-as-GET /acme/cert/{serial} (section 7.4.2): the leaf, then the
 * intermediate, as application/pem-certificate-chain. There are no
 * alternate chains (one intermediate, one root), so no Link
 * rel="alternate"; the Link rel="index" comes with every ACME reply. */
struct cert_get {
	const char *serial;
	struct store_cert *row;
	struct store_acme_late *late;
};

static enum store_qs cert_get_cb(struct store_conn *c, void *cls)
{
	struct cert_get *g = cls;

	return store_take_acme_nonce_cert(c, g->serial, g->late, &g->row->acme_account_id,
					  &g->row->der_b64);
}

int h_acme_cert(struct request *req)
{
	const char *serial = req->params[0];
	struct store_cert row = {0};
	struct store_acme_late late;
	struct cert_get g = {serial, &row, NULL};
	const char *chain = req->srv->ca ? pki_ca_chain_pem(req->srv->ca) : NULL, *end;
	char *pem = NULL;
	size_t cap, off = 0, inter_len;
	enum store_qs qs;
	int ret;

	if (!req->acme->post_as_get)
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "a certificate is read with POST-as-GET (an empty payload)");
	if (!serial_ok(serial))
		return reply_problem(req, ERR_ACME_NOT_FOUND, "no such certificate");
	if (chain == NULL || (end = strstr(chain, "-----END CERTIFICATE-----")) == NULL)
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, "no CA");
	end += strlen("-----END CERTIFICATE-----");
	inter_len = (size_t)(end - chain);
	if ((g.late = acme_late(req, &late)) != NULL) {
		qs = store_run(req->srv->store, cert_get_cb, &g);
		if (!acme_late_settle(req, qs, late.nonce_state, &ret))
			goto out;
		qs = row.der_b64 != NULL ? STORE_ONE : STORE_NONE;
	} else
		qs = certs_select(req->srv, serial, &row);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_ACME_NOT_FOUND, "no such certificate");
	if (row.acme_account_id == NULL ||
	    strcmp(row.acme_account_id, req->acme->account.id) != 0) {
		ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
				    "the certificate is not this account's");
		goto out;
	}
	cap = strlen(row.der_b64) * 2 + inter_len + 128;
	if ((pem = malloc(cap)) == NULL || !pem_append(pem, cap, &off, row.der_b64) ||
	    off + inter_len + 2 > cap) {
		ret = reply_problem(req, ERR_ACME_SERVER_INTERNAL, "cannot render the chain");
		goto out;
	}
	memcpy(pem + off, chain, inter_len);
	off += inter_len;
	pem[off++] = '\n';
	ret = reply_bytes(req, 200, "application/pem-certificate-chain", pem, off, NULL);
out:
	free(pem);
	store_cert_free(&row);
	return ret;
}

/* The names of a certificate row's SAN text ("DNS:a.example, IP:192.0.2.1")
 * as ACME identifiers, JSON array text (free()), or NULL. */
static char *sans_identifiers(const char *sans)
{
	json_t *list = json_array();
	const char *p = sans;
	char *out = NULL;

	if (list == NULL)
		return NULL;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		const char *type = strncmp(p, "DNS:", 4) == 0  ? "dns"
				   : strncmp(p, "IP:", 3) == 0 ? "ip"
							       : NULL;
		const char *colon = memchr(p, ':', n);
		if (type == NULL || colon == NULL)
			goto out; /* a name ACME cannot authorize */
		json_array_append_new(list, json_pack("{s:s, s:s%}", "type", type, "value",
						      colon + 1, n - (size_t)(colon + 1 - p)));
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	out = json_dumps(list, JSON_COMPACT);
out:
	json_decref(list);
	return out;
}

struct revoke {
	const char *serial;
	const char *account; /* kid: the signer's account; NULL for a jwk */
	int reason;
	enum err_code refused; /* 0: revoked now */
	struct store_cert row;
};

static enum store_qs revoke_cb(struct store_conn *c, void *cls)
{
	struct revoke *r = cls;
	enum store_qs qs;

	store_cert_free(&r->row);
	r->refused = 0;
	qs = store_select_certificate(c, r->serial, &r->row);
	if (qs < 0)
		return qs;
	if (qs == STORE_NONE) {
		r->refused = ERR_ACME_NOT_FOUND;
		return STORE_NONE;
	}
	if (r->account != NULL &&
	    (r->row.acme_account_id == NULL || strcmp(r->row.acme_account_id, r->account) != 0)) {
		/* Section 7.6: an account authorized for every name may revoke. */
		char *ids = sans_identifiers(r->row.sans);
		bool covered = false;
		qs = ids ? store_select_acme_authz_cover(c, r->account, ids, &covered) : STORE_NONE;
		free(ids);
		if (qs < 0)
			return qs;
		if (!covered)
			r->refused = ERR_ACME_UNAUTHORIZED;
	}
	if (r->refused == 0 && r->row.revoked_at != 0)
		r->refused = ERR_ACME_ALREADY_REVOKED;
	if (r->refused != 0)
		return STORE_NONE;
	/* The operator API's revocation (POST /pki/certificates/{serial}/revoke):
	 * the CRL hears of it through EVENTS_CERT_REVOKED. */
	qs = store_revoke_certificate(c, r->serial, r->reason);
	if (qs == STORE_NONE)
		r->refused = ERR_ACME_ALREADY_REVOKED; /* a racing revocation won */
	return qs;
}

/* Section 7.6: the reasons a subscriber may give. Codes 2 (cACompromise),
 * 7 (unused) and 8 (removeFromCRL) are not theirs. */
static bool reason_ok(long long r)
{
	return r >= 0 && r <= 10 && r != 2 && r != 7 && r != 8;
}

int h_acme_revoke_cert(struct request *req)
{
	struct acme_auth *a = req->acme;
	const char *cert_text = NULL;
	long long reason = 0;
	struct json_spec spec[] = {
		json_spec_string("certificate", &cert_text, 16384, 0),
		json_spec_int("reason", &reason, -1000, 1000, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	char serial[33];
	struct revoke r = {.serial = serial};
	uint8_t *der = NULL, *spki = NULL, *key = NULL;
	size_t der_len = 0, spki_len = 0, key_len = 0;
	enum spec_status st;
	enum store_qs qs;
	int ret = MHD_NO;

	if (a->post_as_get)
		return reply_problem(req, ERR_ACME_MALFORMED, "revokeCert needs a payload");
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if (!reason_ok(reason)) {
		ret = reply_problem(
			req, ERR_ACME_BAD_REVOCATION_REASON,
			"reason %lld is not one a subscriber may give (0, 1, 3-6, 9, 10)", reason);
		goto out;
	}
	if ((der = b64url_der(cert_text, &der_len)) == NULL) {
		ret = reply_problem(req, ERR_ACME_MALFORMED, "\"certificate\" is not base64url");
		goto out;
	}
	if (req->srv->ca == NULL ||
	    pki_cert_inspect(req->srv->ca, der, der_len, serial, &spki, &spki_len) != 0) {
		ret = reply_problem(req, ERR_ACME_NOT_FOUND, "not a certificate this CA issued");
		goto out;
	}
	if (a->has_account) {
		r.account = a->account.id;
	} else {
		/* Signed by a key, not an account: the certificate's own. */
		if ((key = key_spki(a->key.pkey, &key_len)) == NULL) {
			ret = reply_problem(req, ERR_ACME_SERVER_INTERNAL, "no memory");
			goto out;
		}
		if (key_len != spki_len || memcmp(key, spki, key_len) != 0) {
			ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
					    "the JWS key is not the certificate's key");
			goto out;
		}
	}
	r.reason = (int)reason;
	qs = store_run_txn(req->srv->store, revoke_cb, &r);
	if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (r.refused == ERR_ACME_UNAUTHORIZED)
		ret = reply_problem(req, r.refused,
				    "the certificate is another account's, and this account is not "
				    "authorized for all its names");
	else if (r.refused == ERR_ACME_ALREADY_REVOKED)
		ret = reply_problem(req, r.refused, "the certificate is already revoked");
	else if (r.refused != 0)
		ret = reply_problem(req, r.refused, "no record of this certificate");
	else {
		log_kv(LOG_INFO, "ACME certificate revoked", "serial", serial, "by",
		       a->has_account ? "account" : "certificate key", NULL);
		ret = reply_empty(req, 200);
	}
out:
	store_cert_free(&r.row);
	free(der);
	free(spki);
	free(key);
	json_spec_free(spec);
	return ret;
}
