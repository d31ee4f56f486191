/* Orchard as the TPM attestation CA: POST /attestation/ak/challenge makes a
 * credential (TPM2_MakeCredential) for an enrolled TPM's EK bound to its AK;
 * POST /attestation/ak/{id}/activate takes the secret the TPM recovered and
 * answers with the AK certificate chain. The TPM is the only authentication:
 * the EK must belong to an enabled enrollment and only it can activate. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/ct.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "pki/pki.h"
#include "server/certs.h"
#include "server/dps.h"
#include "server/dps_tpm.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/attest.h"
#include "verifier/ak.h"
#include "verifier/ek_cert.h"
#include "verifier/makecred.h"
#include "verifier/verr_map.h"

/* Seconds between a challenge and the latest activation. */
#define ATTEST_CHALLENGE_TTL 300
/* Unexpired challenges one EK may hold: a device needs one or two. */
#define ATTEST_CHALLENGES_MAX 16
/* The credential's secret: 32 bytes fit every EK nameAlg (SHA-256 up). */
#define ATTEST_SECRET_LEN 32
#define ATTEST_SECRET_MAX 64

/* ---- what both endpoints share ------------------------------------------ */

/* Standard base64 of SHA-256 over the SubjectPublicKeyInfo DER of a TPM
 * public area (the urn:ek:sha256: value). 0 or -1. */
static int spki_of(const TPMT_PUBLIC *p, uint8_t **der, int *len)
{
	struct verr ve = {0};
	EVP_PKEY *k = tpm_public_to_pkey(p, &ve);

	*der = NULL;
	*len = k ? i2d_PUBKEY(k, der) : -1;
	EVP_PKEY_free(k);
	return *len > 0 ? 0 : -1;
}

static char *ek_hash_b64(const TPMT_PUBLIC *ek)
{
	uint8_t *der = NULL, md[32];
	int len;
	char *out = NULL;

	if (spki_of(ek, &der, &len) == 0 &&
	    EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL))
		out = b64_encode(md, sizeof md, 0);
	OPENSSL_free(der);
	return out;
}

/* Whether the enrollment row lets its devices get AK certificates. */
static bool enabled(const struct store_dps_enrollment *e)
{
	return strcmp(e->provisioning_status, "enabled") == 0;
}

/* ---- POST /attestation/ak/challenge ------------------------------------- */

struct challenge {
	struct tpm_public ek, ak;
	uint8_t ek_raw[DPS_TPM_PUB_MAX];
	size_t ek_len;
	const char *ek_b64;
	X509 *ek_cert; /* NULL unless sent */
	char derived[64];
	char group_id[DPS_ID_MAX + 1];
	char regid[DPS_ID_MAX + 1];
	bool derived_taken;    /* an individual enrollment of another EK holds derived */
	char *tpm_name;	       /* the EK certificate's TPM name (base64 DER), or NULL */
	enum err_code refused; /* why it was refused, when why is set */
	const char *why;       /* NULL: not refused */
	struct store_attest_challenge row;
};

/* An EK as TCG's templates make it: a restricted decryption key bound to
 * its TPM (the credential's seed is encrypted to it). */
static int ek_attributes_ok(const TPMT_PUBLIC *p)
{
	TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
			   TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED |
			   TPMA_OBJECT_DECRYPT;

	return (p->objectAttributes & need) == need &&
	       (p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0;
}

/* Whether every attribute of name is TPMManufacturer, TPMModel or
 * TPMVersion (2.23.133.2.1-3), as pki_issue_ak() requires. */
static bool tcg_name(const X509_NAME *name)
{
	int n = X509_NAME_entry_count(name);
	char oid[32];

	for (int i = 0; i < n; i++) {
		const ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, i));
		if (OBJ_obj2txt(oid, sizeof oid, o, 1) <= 0 ||
		    strncmp(oid, "2.23.133.2.", 11) != 0 || oid[11] < '1' || oid[11] > '3' ||
		    oid[12] != '\0')
			return false;
	}
	return n > 0;
}

/* The TPM manufacturer/model/version directoryName of an EK certificate's
 * SAN as base64 DER, or NULL when it has none (a directoryName with other
 * attributes is not one), or out of memory. */
static char *tpm_name_b64(X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	unsigned char *der = NULL;
	char *out = NULL;
	int n;

	for (int i = 0; i < sk_GENERAL_NAME_num(names) && out == NULL; i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_DIRNAME || !tcg_name(gn->d.dirn) ||
		    (n = i2d_X509_NAME(gn->d.dirn, &der)) <= 0)
			continue;
		out = b64_encode(der, (size_t)n, 0);
		OPENSSL_free(der);
		der = NULL;
	}
	GENERAL_NAMES_free(names);
	return out;
}

/* The individual enrollment pinning this EK (its key compared, not its
 * bytes), into ch->row; true when one was found, enabled or not. */
static enum store_qs individual_find(struct store_conn *c, struct challenge *ch, bool *found)
{
	struct store_dps_enrollment_list l = {0};
	enum store_qs qs = store_select_dps_tpm_individuals(c, ch->ek_b64, ch->derived, &l);

	*found = false;
	ch->derived_taken = false;
	for (int i = 0; qs > 0 && i < l.n && !*found; i++) {
		json_t *params = dps_attestation_params(&l.items[i]);
		const char *pinned = json_string_value(json_object_get(params, "endorsementKey"));
		struct tpm_public ek;
		uint8_t raw[DPS_TPM_PUB_MAX];
		size_t n = 0;
		struct verr ve = {0};

		bool same = pinned != NULL && dps_tpm_public(pinned, &ek, raw, &n, &ve) == 0 &&
			    dps_tpm_same_key(&ek.pub, &ch->ek.pub);

		/* The EK's own registration ID pinned to another EK: no group
		 * may name a device by it either. */
		if (!same && strcmp(l.items[i].id, ch->derived) == 0)
			ch->derived_taken = true;
		if (same) {
			*found = true;
			snprintf(ch->regid, sizeof ch->regid, "%s", l.items[i].id);
			ch->row.enrollment_kind = STORE_DPS_INDIVIDUAL;
			ch->row.enrollment_id = ch->regid;
			if (!enabled(&l.items[i])) {
				ch->refused = ERR_ATTEST_ENROLLMENT_DISABLED;
				ch->why = "the individual enrollment is disabled";
			}
		}
		json_decref(params);
	}
	store_dps_enrollment_list_free(&l);
	return qs < 0 ? qs : STORE_ONE;
}

/* A TPM group whose manufacturer roots the EK certificate chains to. */
static enum store_qs group_find(struct store_conn *c, struct challenge *ch)
{
	struct store_dps_enrollment_list groups = {0};
	enum store_qs qs;
	struct verr ve = {0};
	bool disabled = false;

	ch->refused = ERR_ATTEST_EK_UNTRUSTED;
	ch->why = "no enrollment pins this endorsement key";
	if (ch->ek_cert == NULL)
		return STORE_ONE;
	ch->why = "this EK's registration ID belongs to an individual enrollment of another EK";
	if (ch->derived_taken)
		return STORE_ONE;
	if ((qs = store_select_dps_groups(c, "tpm", &groups)) < 0)
		return qs;
	ch->why = "the endorsement key certificate chains to no TPM enrollment group's roots";
	for (int i = 0; i < groups.n; i++) {
		if (!dps_tpm_group_accepts(groups.items[i].attestation_params_json, ch->ek_cert,
					   &ch->ek.pub, &ve))
			continue;
		if (!enabled(&groups.items[i])) {
			disabled = true;
			continue;
		}
		ch->why = NULL;
		snprintf(ch->group_id, sizeof ch->group_id, "%s", groups.items[i].id);
		snprintf(ch->regid, sizeof ch->regid, "%s", ch->derived);
		ch->row.enrollment_kind = STORE_DPS_GROUP;
		ch->row.enrollment_id = ch->group_id;
		break;
	}
	if (ch->why != NULL && disabled) {
		ch->refused = ERR_ATTEST_ENROLLMENT_DISABLED;
		ch->why = "the TPM enrollment group is disabled";
	}
	store_dps_enrollment_list_free(&groups);
	return STORE_ONE;
}

/* Whether the EK certificate chains to some TPM group's manufacturer roots:
 * only then does Orchard copy its TPM name into an individual enrollment's
 * AK certificate (the operator pinned the EK, not the certificate). */
static enum store_qs name_trusted(struct store_conn *c, struct challenge *ch, bool *trusted)
{
	struct store_dps_enrollment_list groups = {0};
	enum store_qs qs = store_select_dps_groups(c, "tpm", &groups);
	struct verr ve = {0};

	*trusted = false;
	for (int i = 0; qs > 0 && i < groups.n && !*trusted; i++)
		*trusted = dps_tpm_group_accepts(groups.items[i].attestation_params_json,
						 ch->ek_cert, &ch->ek.pub, &ve);
	store_dps_enrollment_list_free(&groups);
	return qs < 0 ? qs : STORE_ONE;
}

static enum store_qs challenge_cb(struct store_conn *c, void *cls)
{
	struct challenge *ch = cls;
	enum store_qs qs;
	bool found, trusted = true;
	long long revoked = 0;

	ch->why = NULL;
	if ((qs = individual_find(c, ch, &found)) < 0)
		return qs;
	if (!found && (qs = group_find(c, ch)) < 0)
		return qs;
	if (ch->why != NULL)
		return STORE_NONE;
	if (found && ch->tpm_name != NULL && (qs = name_trusted(c, ch, &trusted)) < 0)
		return qs;
	ch->row.tpm_name = trusted ? ch->tpm_name : NULL;
	if ((qs = store_count_attest_revoked(c, ch->row.ek_hash, &revoked)) < 0)
		return qs;
	if (revoked > 0) {
		ch->refused = ERR_ATTEST_AK_REVOKED;
		ch->why = "an AK certificate of this TPM was revoked: it gets no more";
		return STORE_NONE;
	}
	qs = store_insert_attest_challenge(c, &ch->row, ATTEST_CHALLENGE_TTL,
					   ATTEST_CHALLENGES_MAX);
	if (qs == STORE_NONE) {
		ch->refused = ERR_ATTEST_TOO_MANY;
		ch->why = "this TPM has too many pending challenges: activate or let them expire";
	}
	return qs;
}

/* A TPM2B as bytes: its big-endian size, then the buffer; base64. */
static char *tpm2b_b64(const uint8_t *buf, uint16_t size)
{
	uint8_t out[2 + 1024];

	if (size > sizeof out - 2)
		return NULL;
	out[0] = (uint8_t)(size >> 8);
	out[1] = (uint8_t)size;
	memcpy(out + 2, buf, size);
	return b64_encode(out, (size_t)size + 2, 0);
}

/* Decodes the request's TPM structures into ch; replies and returns false
 * when one is malformed or refused. */
static bool challenge_parse(struct request *req, struct challenge *ch, const char *ak_b64,
			    const char *cert_b64, int *ret)
{
	uint8_t raw[DPS_TPM_PUB_MAX], *der = NULL;
	size_t n = 0;
	struct verr ve = {0};

	if (dps_tpm_public(ch->ek_b64, &ch->ek, ch->ek_raw, &ch->ek_len, &ve) != 0) {
		*ret = reply_problem(req, ERR_ATTEST_MALFORMED, "/endorsementKey: %s", ve.msg);
		return false;
	}
	if (!ek_attributes_ok(&ch->ek.pub)) {
		*ret = reply_problem(req, ERR_ATTEST_EK_UNTRUSTED,
				     "/endorsementKey: not a restricted decryption key fixed to "
				     "its TPM");
		return false;
	}
	if (dps_tpm_public(ak_b64, &ch->ak, raw, &n, &ve) != 0) {
		*ret = reply_problem(req, ERR_ATTEST_MALFORMED, "/attestationKey: %s", ve.msg);
		return false;
	}
	if (ak_check_public(&ch->ak.pub, &ve) != 0) {
		*ret = reply_problem(req, verr_err_code(ve.code), "/attestationKey: %s", ve.msg);
		return false;
	}
	if (cert_b64 == NULL)
		return true;
	der = b64_decode(cert_b64, strlen(cert_b64), 0, &n);
	if (der == NULL || n > DPS_TPM_CERT_MAX ||
	    (ch->ek_cert = ek_cert_parse(der, n, &ve)) == NULL) {
		free(der);
		*ret = reply_problem(req, ERR_ATTEST_MALFORMED,
				     "/endorsementKeyCertificate: must be base64 DER");
		return false;
	}
	free(der);
	if (ek_cert_match_public(ch->ek_cert, &ch->ek.pub, &ve) != 0) {
		*ret = reply_problem(req, verr_err_code(ve.code), "/endorsementKeyCertificate: %s",
				     ve.msg);
		return false;
	}
	return true;
}

int h_attest_ak_challenge(struct request *req)
{
	const char *ak_b64 = NULL, *cert_b64 = NULL;
	struct challenge ch = {0};
	struct json_spec spec[] = {
		json_spec_string("endorsementKey", &ch.ek_b64, 4096, 0),
		json_spec_string("endorsementKeyCertificate", &cert_b64, 8192, JSON_SPEC_OPTIONAL),
		json_spec_string("attestationKey", &ak_b64, 4096, 0),
		json_spec_end(),
	};
	uint8_t secret[ATTEST_SECRET_LEN], md[32], rnd[16];
	char id[33], hash_hex[65], expires[TIMEFMT_RFC3339_LEN];
	char *blob_b64 = NULL, *encsec_b64 = NULL;
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET encsec;
	struct verr ve = {0};
	enum spec_status st;
	enum store_qs qs;
	int ret;

	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if (!challenge_parse(req, &ch, ak_b64, cert_b64, &ret))
		goto out;
	if (req->srv->ca == NULL || pki_ca_att_pem(req->srv->ca) == NULL) {
		ret = reply_problem(req, ERR_ATTEST_INTERNAL, "this service has no attestation CA");
		goto out;
	}
	if (RAND_bytes(secret, sizeof secret) != 1 || RAND_bytes(rnd, sizeof rnd) != 1 ||
	    ek_registration_id(ch.ek_raw, ch.ek_len, ch.derived, sizeof ch.derived) != 0 ||
	    (ch.row.ek_hash = ek_hash_b64(&ch.ek.pub)) == NULL ||
	    !EVP_Digest(secret, sizeof secret, md, NULL, EVP_sha256(), NULL)) {
		ret = reply_problem(req, ERR_ATTEST_INTERNAL, "no randomness or out of memory");
		goto out;
	}
	if (makecred(&ch.ek.pub, ch.ak.name, ch.ak.name_len, secret, sizeof secret, &blob, &encsec,
		     &ve) != 0) {
		ret = reply_problem(req, verr_err_code(ve.code), "%s", ve.msg);
		goto out;
	}
	hex_encode(rnd, sizeof rnd, id);
	hex_encode(md, sizeof md, hash_hex);
	ch.row.id = id;
	ch.row.registration_id = ch.regid;
	ch.row.attestation_key = (char *)ak_b64;
	ch.row.secret_hash = hash_hex;
	if (ch.ek_cert != NULL)
		ch.tpm_name = tpm_name_b64(ch.ek_cert);
	blob_b64 = tpm2b_b64(blob.credential, blob.size);
	encsec_b64 = tpm2b_b64(encsec.secret, encsec.size);
	if (blob_b64 == NULL || encsec_b64 == NULL) {
		ret = reply_problem(req, ERR_ATTEST_INTERNAL, "out of memory");
		goto out;
	}
	qs = store_run_txn(req->srv->store, challenge_cb, &ch);
	if (qs < 0) {
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, "could not record the challenge");
	} else if (ch.why != NULL) {
		ret = reply_problem(req, ch.refused, "%s", ch.why);
	} else {
		timefmt_rfc3339((long long)time(NULL) + ATTEST_CHALLENGE_TTL, expires);
		log_kv(LOG_INFO, "AK challenge", "id", id, "registrationId", ch.regid, "enrollment",
		       ch.row.enrollment_id, NULL);
		ret = reply_json_private(req, 201,
					 json_pack("{s:s, s:s, s:s, s:s}", "id", id,
						   "credentialBlob", blob_b64, "encryptedSecret",
						   encsec_b64, "expires", expires));
	}
out:
	explicit_bzero(secret, sizeof secret);
	X509_free(ch.ek_cert);
	free(ch.row.ek_hash);
	free(ch.tpm_name);
	free(blob_b64);
	free(encsec_b64);
	json_spec_free(spec);
	return ret;
}

/* ---- POST /attestation/ak/{id}/activate ---------------------------------- */

struct activation {
	struct server *srv;
	const char *id;
	char hash_hex[65];     /* SHA-256 of the secret sent */
	enum err_code refused; /* why it was refused, when why is set */
	const char *why;       /* NULL: issued */
	struct pki_cert cert;
	struct store_attest_challenge row;
};

/* Issues the AK certificate the challenge row describes into a->cert.
 * 0, or -1 after logging why. */
static int issue(struct activation *a)
{
	struct store_attest_challenge *ch = &a->row;
	struct tpm_public ak;
	uint8_t raw[DPS_TPM_PUB_MAX], *spki = NULL, *name = NULL;
	size_t n = 0, name_len = 0;
	int spki_len;
	char uri[96], why[256];
	struct verr ve = {0};
	enum pki_status ps = PKI_ERR_INTERNAL;

	snprintf(uri, sizeof uri, "urn:ek:sha256:%s", ch->ek_hash);
	if (dps_tpm_public(ch->attestation_key, &ak, raw, &n, &ve) == 0 &&
	    spki_of(&ak.pub, &spki, &spki_len) == 0 &&
	    (ch->tpm_name == NULL ||
	     (name = b64_decode(ch->tpm_name, strlen(ch->tpm_name), 0, &name_len)) != NULL)) {
		struct pki_ak_req r = {
			.spki_der = spki,
			.spki_len = (size_t)spki_len,
			.tpm_name_der = name,
			.tpm_name_len = name_len,
			.ek_uri = uri,
			.permanent_id = ch->registration_id,
		};
		ps = pki_issue_ak(a->srv->ca, &r, &a->cert, why, sizeof why);
		if (ps != PKI_OK)
			log_bug("pki_issue_ak", "why", why);
	} else {
		log_bug("the challenge's AK or TPM name does not decode");
	}
	OPENSSL_free(spki);
	free(name);
	return ps == PKI_OK ? 0 : -1;
}

static enum store_qs activate_cb(struct store_conn *c, void *cls)
{
	struct activation *a = cls;
	struct store_dps_enrollment e = {0};
	struct certs_origin origin = {0};
	long long revoked = 0;
	enum store_qs qs;

	store_attest_challenge_free(&a->row);
	pki_cert_free(&a->cert);
	a->refused = ERR_ATTEST_ACTIVATION;
	a->why = "no such challenge, or it was used";
	if ((qs = store_take_attest_challenge(c, a->id, &a->row)) <= 0)
		return qs;
	/* From here the challenge is spent whatever follows: commit. */
	a->why = "the challenge expired";
	if (!a->row.live)
		return STORE_NONE;
	a->why = "the secret is wrong";
	if (!ct_equal_str(a->hash_hex, a->row.secret_hash))
		return STORE_NONE;
	qs = store_select_dps_enrollment(c, a->row.enrollment_kind, a->row.enrollment_id, &e);
	if (qs < 0)
		return qs;
	a->refused = ERR_ATTEST_ENROLLMENT_DISABLED;
	a->why = "the enrollment is disabled or gone";
	if (qs == STORE_NONE || !enabled(&e)) {
		store_dps_enrollment_free(&e);
		return STORE_NONE;
	}
	store_dps_enrollment_free(&e);
	if ((qs = store_count_attest_revoked(c, a->row.ek_hash, &revoked)) < 0)
		return qs;
	a->refused = ERR_ATTEST_AK_REVOKED;
	a->why = "an AK certificate of this TPM was revoked: it gets no more";
	if (revoked > 0)
		return STORE_NONE;
	a->why = NULL;
	if (issue(a) != 0) {
		/* Our side (the key passed ak_check_public): the challenge is spent. */
		a->refused = ERR_ATTEST_INTERNAL;
		a->why = "the AK certificate could not be issued";
		return STORE_NONE;
	}
	origin.dps_registration = a->row.registration_id;
	if ((qs = certs_record(c, &a->cert, PKI_AK_PROFILE, &origin)) < 0)
		return qs;
	return store_insert_attest_certificate(c, a->cert.serial, &a->row);
}

int h_attest_ak_activate(struct request *req)
{
	const char *secret_b64 = NULL;
	struct json_spec spec[] = {
		json_spec_string("secret", &secret_b64, 128, 0),
		json_spec_end(),
	};
	struct activation a = {.srv = req->srv, .id = req->params[0]};
	uint8_t secret[ATTEST_SECRET_MAX], md[32];
	size_t n = 0, len;
	char *chain = NULL, *chain_json = NULL;
	json_t *arr = NULL;
	enum spec_status st;
	enum store_qs qs;
	int ret;

	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	len = strlen(secret_b64);
	if (len == 0 || b64_decoded_max(len) > sizeof secret ||
	    b64_decode_into(secret_b64, len, 0, secret, &n) != 0 || n == 0) {
		ret = reply_problem(req, ERR_ATTEST_MALFORMED, "/secret: base64 of 1 to %d bytes",
				    ATTEST_SECRET_MAX);
		goto out;
	}
	if (!EVP_Digest(secret, n, md, NULL, EVP_sha256(), NULL)) {
		ret = reply_problem(req, ERR_ATTEST_INTERNAL, "cannot hash");
		goto out;
	}
	hex_encode(md, sizeof md, a.hash_hex);
	if (req->srv->ca == NULL || pki_ca_att_pem(req->srv->ca) == NULL) {
		ret = reply_problem(req, ERR_ATTEST_INTERNAL, "this service has no attestation CA");
		goto out;
	}
	qs = store_run_txn(req->srv->store, activate_cb, &a);
	if (qs < 0) {
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, "could not issue the certificate");
		goto out;
	}
	if (a.why != NULL) {
		ret = reply_problem(req, a.refused, "%s", a.why);
		goto out;
	}
	const char *root = pki_ca_root_pem(req->srv->ca);
	size_t cl = strlen(a.cert.chain_pem), rl = strlen(root);
	if ((chain = malloc(cl + rl + 1)) != NULL) {
		memcpy(chain, a.cert.chain_pem, cl);
		memcpy(chain + cl, root, rl + 1);
	}
	if (chain == NULL || (chain_json = dps_chain_json(chain)) == NULL ||
	    (arr = json_loads(chain_json, 0, NULL)) == NULL) {
		ret = reply_problem(req, ERR_ATTEST_INTERNAL, "out of memory");
		goto out;
	}
	log_kv(LOG_INFO, "AK certificate issued", "serial", a.cert.serial, "registrationId",
	       a.row.registration_id, NULL);
	ret = reply_json_steal(req, 200, json_pack("{s:o}", "certificateChain", arr));
out:
	explicit_bzero(secret, sizeof secret);
	free(chain);
	free(chain_json);
	pki_cert_free(&a.cert);
	store_attest_challenge_free(&a.row);
	json_spec_free(spec);
	return ret;
}
