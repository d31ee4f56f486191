/* The device side of device-attest-01 (libattestclient.a), written for the
 * device agent to reuse; orchard-attest (clients/attest/main.c) is a thin
 * CLI on top. Three parts:
 *  - oa_tpm_*: the TPM through tpm2-tss ESYS: the EK, an AK whose
 *    certificate Orchard's attestation CA issues after credential
 *    activation, a signing key under the SRK, TPM2_Certify with qualifying
 *    data = SHA-256(key authorization), TPM2_Sign for the CSR;
 *  - oa_http/oa_acme_*: HTTPS (libcurl), the attestation CA endpoints and
 *    an ACME client (JWS ES256, account, order, challenge, finalize);
 *  - oa_attobj/oa_csr: the WebAuthn "tpm" attestation object (libcbor) and
 *    a PKCS#10 request the TPM key signs.
 * Errors: -1 (or NULL) with a line in the caller's err buffer. */
#ifndef ORCHARD_CLIENTS_ATTEST_H
#define ORCHARD_CLIENTS_ATTEST_H
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OA_ERR_MAX 256

/* A byte string the holder frees with free(). */
struct oa_buf {
	uint8_t *b;
	size_t n;
};
void oa_buf_free(struct oa_buf *b);

/* --- TPM -------------------------------------------------------------- */
struct oa_tpm;

/* Opens the TPM behind tcti (a tctildr string, "swtpm:port=2321"; NULL:
 * the default device). */
struct oa_tpm *oa_tpm_open(const char *tcti, char *err);
void oa_tpm_close(struct oa_tpm *t);

/* The EK at persistent handle ek_handle as a marshalled TPM2B_PUBLIC, and
 * its certificate from NV index cert_nv (DER; cert->n 0 when it has none,
 * or cert_nv is 0). */
int oa_tpm_ek(struct oa_tpm *t, uint32_t ek_handle, uint32_t cert_nv, struct oa_buf *pub,
	      struct oa_buf *cert, char *err);

/* Creates the AK (a restricted signing primary in the owner hierarchy:
 * ECC P-256/ECDSA or RSA-2048/RSASSA, SHA-256) and gives its TPM2B_PUBLIC. */
int oa_tpm_ak_create(struct oa_tpm *t, bool ecc, struct oa_buf *pub, char *err);

/* TPM2_ActivateCredential with the AK and the EK on the server's
 * credentialBlob (TPM2B_ID_OBJECT) and encryptedSecret
 * (TPM2B_ENCRYPTED_SECRET): the recovered secret into *secret. */
int oa_tpm_activate(struct oa_tpm *t, const struct oa_buf *blob, const struct oa_buf *enc,
		    struct oa_buf *secret, char *err);

/* Creates and loads a signing key under the SRK: fixedTPM, fixedParent,
 * sensitiveDataOrigin, sign, not restricted; ECC P-256 or RSA-2048. */
int oa_tpm_key_create(struct oa_tpm *t, bool ecc, char *err);

/* The signing key's public key for OpenSSL (the caller frees). */
EVP_PKEY *oa_tpm_key_pkey(struct oa_tpm *t, char *err);

/* TPM2_Certify of the signing key by the AK with qualifying data qd:
 * certInfo (TPMS_ATTEST), sig (marshalled TPMT_SIGNATURE), pub_area (the
 * key's TPMT_PUBLIC without its size) and alg (its COSE number). */
int oa_tpm_certify(struct oa_tpm *t, const uint8_t *qd, size_t qdlen, struct oa_buf *cert_info,
		   struct oa_buf *sig, struct oa_buf *pub_area, long *alg, char *err);

/* The quote gate's evidence: TPM2_Quote by the AK over the SHA-256 PCRs
 * in mask (bit i: PCR i, 0-23), qualified with qd, with the AK's
 * TPM2B_PUBLIC and the PCR values read just before. */
struct oa_quote {
	struct oa_buf ak_pub, quoted, sig;
	struct oa_buf event_log; /* sent as "eventLog" when not empty */
	uint32_t mask;
	uint8_t values[24][32];
};
void oa_quote_free(struct oa_quote *q);
int oa_tpm_quote(struct oa_tpm *t, const uint8_t *qd, size_t qdlen, uint32_t mask,
		 struct oa_quote *q, char *err);

/* TPM2_Sign of a SHA-256 digest with the signing key: a DER ECDSA-Sig-Value
 * or an RSASSA-PKCS1-v1_5 signature, as X.509 wants them. */
int oa_tpm_sign(struct oa_tpm *t, const uint8_t digest[32], struct oa_buf *sig, char *err);

/* --- the AK certificate chain --------------------------------------- */
#define OA_CHAIN_MAX 4

/* The chain (DER, AK certificate first) as PEM into path, or the first
 * OA_CHAIN_MAX certificates of path into chain[0..*n). */
int oa_chain_save(const char *path, const struct oa_buf *chain, size_t n, char *err);
int oa_chain_load(const char *path, struct oa_buf *chain, size_t *n, char *err);

/* --- attestation object and CSR ---------------------------------------- */

/* {"fmt":"tpm","attStmt":{"ver":"2.0","alg","x5c","sig","certInfo",
 * "pubArea"}} as CBOR; x5c the DER certificates, AK certificate first.
 * With quote (may be NULL), also "orchardQuote": {"akPub", "quoted",
 * "sig", "pcrs": [[0x000b, index, value]...]} for the quote gate. */
int oa_attobj(long alg, const struct oa_buf *x5c, size_t nx5c, const struct oa_buf *sig,
	      const struct oa_buf *cert_info, const struct oa_buf *pub_area,
	      const struct oa_quote *quote, struct oa_buf *out, char *err);

/* A PKCS#10 request for the TPM key, no extensions (the identifier comes
 * from the order), the subject empty or CN=cn, signed by the TPM. DER into
 * *out. */
int oa_csr(struct oa_tpm *t, const char *cn, struct oa_buf *out, char *err);

/* --- HTTPS and ACME ---------------------------------------------------- */

/* One request: body (may be NULL) with content_type; the status, the body
 * received and the Location and Replay-Nonce headers (malloc'd or NULL). */
struct oa_resp {
	long status;
	struct oa_buf body;
	char *location, *nonce;
};
void oa_resp_free(struct oa_resp *r);
int oa_http(const char *cacert, const char *method, const char *url, const char *content_type,
	    const char *body, size_t len, struct oa_resp *r, char *err);

/* Closes this thread's connection (oa_http keeps one open per thread). */
void oa_http_done(void);

/* POST url with JSON j (stolen) and parse the JSON answer into *out. */
int oa_post_json(const char *cacert, const char *url, json_t *j, long *status, json_t **out,
		 char *err);

struct oa_acme {
	const char *cacert;
	char *new_nonce, *new_account, *new_order;
	char *kid;   /* the account URL */
	char *nonce; /* the next Replay-Nonce */
	EVP_PKEY *key;
	char thumbprint[48]; /* base64url SHA-256 of the JWK (RFC 7638) */
};
void oa_acme_free(struct oa_acme *a);

/* Reads directory_url, makes a P-256 account key and registers it. */
int oa_acme_account(struct oa_acme *a, const char *cacert, const char *directory_url, char *err);

/* A JWS POST of payload (stolen; NULL: POST-as-GET) to url. */
int oa_acme_post(struct oa_acme *a, const char *url, json_t *payload, struct oa_resp *r, char *err);

/* Same, parsing the answer's JSON into *out. */
int oa_acme_post_json(struct oa_acme *a, const char *url, json_t *payload, long *status,
		      json_t **out, char **location, char *err);

#endif
