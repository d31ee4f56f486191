/* DPS TPM attestation helpers: EK/SRK decoding, EK comparison, EK
 * certificates against a group's roots, authenticationKey building. */
#include "server/dps_tpm.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "verifier/dps_authkey.h"
#include "verifier/ek_cert.h"

int dps_tpm_public(const char *b64, struct tpm_public *out, uint8_t *raw, size_t *rawlen,
		   struct verr *e)
{
	size_t n = b64 ? strlen(b64) : 0;

	/* b64_decode_into may write up to b64_decoded_max(n) bytes. */
	if (n == 0 || b64_decoded_max(n) > DPS_TPM_PUB_MAX ||
	    b64_decode_into(b64, n, 0, raw, rawlen) != 0) {
		verr_set(e, "bad-base64", "not base64 of at most %d bytes", DPS_TPM_PUB_MAX);
		return -1;
	}
	return tpm_public_parse(raw, *rawlen, out, e);
}

bool dps_tpm_same_key(const TPMT_PUBLIC *a, const TPMT_PUBLIC *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == TPM2_ALG_RSA)
		return a->unique.rsa.size == b->unique.rsa.size &&
		       memcmp(a->unique.rsa.buffer, b->unique.rsa.buffer, a->unique.rsa.size) == 0;
	if (a->type == TPM2_ALG_ECC)
		return a->parameters.eccDetail.curveID == b->parameters.eccDetail.curveID &&
		       a->unique.ecc.x.size == b->unique.ecc.x.size &&
		       a->unique.ecc.y.size == b->unique.ecc.y.size &&
		       memcmp(a->unique.ecc.x.buffer, b->unique.ecc.x.buffer,
			      a->unique.ecc.x.size) == 0 &&
		       memcmp(a->unique.ecc.y.buffer, b->unique.ecc.y.buffer,
			      a->unique.ecc.y.size) == 0;
	return false;
}

int dps_tpm_authkey_new(const char *ek_b64, const char *srk_b64, char key_b64[DPS_KEY_B64_MAX],
			char **blob_b64, struct verr *e)
{
	struct tpm_public ek, srk;
	uint8_t raw[DPS_TPM_PUB_MAX], k[32], blob[DPS_AUTHKEY_MAX];
	size_t rawlen = 0, blen = 0;
	char *kb = NULL;
	int rc = -1;

	*blob_b64 = NULL;
	if (dps_tpm_public(ek_b64, &ek, raw, &rawlen, e) != 0 ||
	    dps_tpm_public(srk_b64, &srk, raw, &rawlen, e) != 0)
		goto out;
	if (RAND_bytes(k, sizeof k) != 1) {
		verr_set(e, "internal", "no randomness");
		goto out;
	}
	if (dps_authkey_build(&ek, &srk, k, sizeof k, blob, sizeof blob, &blen, e) != 0)
		goto out;
	kb = b64_encode(k, sizeof k, 0);
	*blob_b64 = b64_encode(blob, blen, 0);
	if (kb == NULL || *blob_b64 == NULL || strlen(kb) >= DPS_KEY_B64_MAX) {
		verr_set(e, "internal", "out of memory");
		free(*blob_b64);
		*blob_b64 = NULL;
		goto out;
	}
	memcpy(key_b64, kb, strlen(kb) + 1);
	rc = 0;
out:
	if (kb != NULL)
		explicit_bzero(kb, strlen(kb));
	free(kb);
	explicit_bzero(k, sizeof k);
	return rc;
}

bool dps_tpm_group_accepts(const char *params_json, X509 *cert, const TPMT_PUBLIC *ek,
			   struct verr *e)
{
	json_t *params = params_json ? json_loads(params_json, 0, NULL) : NULL;
	json_t *list = json_object_get(params, "rootCertificates"), *v;
	struct ek_roots *roots = NULL;
	size_t i, total = 0;
	char *pem = NULL;
	bool ok = false;

	verr_set(e, "roots-empty", "the group names no manufacturer root");
	json_array_foreach (list, i, v)
		total += json_string_length(v) + 1;
	if (total == 0 || (pem = malloc(total)) == NULL)
		goto out;
	total = 0;
	json_array_foreach (list, i, v) {
		memcpy(pem + total, json_string_value(v), json_string_length(v));
		total += json_string_length(v);
		pem[total++] = '\n';
	}
	if ((roots = ek_roots_load_pem(pem, total, e)) == NULL)
		goto out;
	ok = ek_cert_verify(roots, cert, 0, e) == 0 && ek_cert_match_public(cert, ek, e) == 0;
out:
	ek_roots_free(roots);
	free(pem);
	json_decref(params);
	return ok;
}
