/* The device side of device-attest-01 (libattestclient.a), written for the
 * device agent to reuse; orchard-attest (clients/attest/main.c) is a thin
 * CLI on top. Three parts:
 *  - oa_tpm_*: the TPM through tpm2-tss ESYS: the EK, an AK whose
 *    certificate Orchard's attestation CA issues after credential
 *    activation, a signing key under the SRK, TPM2_Certify with qualifying
 *    data = SHA-256(key authorization), TPM2_Sign for the CSR;
 *  - oa_http/oa_acme_*: HTTPS (https.c, OpenSSL alone: no libcurl), the attestation CA endpoints
 * and an ACME client (JWS ES256, account, order, challenge, finalize);
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

/* Flushes every transient object in the TPM: those a crashed process
 * left behind (swtpm has no resource manager and room for three). Call it
 * right after oa_tpm_open, before any oa_tpm_* that loads an object; it
 * also forgets t's own AK and signing key. The number flushed, or -1 with
 * err set. */
int oa_tpm_flush_transient(struct oa_tpm *t, char *err);

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

/* The signing key kept across restarts: oa_tpm_key_save writes the last
 * key oa_tpm_key_create made as dir/tls.pub (marshalled TPM2B_PUBLIC) and
 * dir/tls.priv (TPM2B_PRIVATE, wrapped by the SRK; useless outside this
 * TPM), both 0600, dir created 0700 when missing. oa_tpm_key_load
 * recreates the SRK (a primary: the same key every time), loads the
 * saved key as the signing key (flushing any earlier one) and flushes the
 * SRK. oa_tpm_key_flush unloads the signing key (oa_tpm_close does too).
 * -1 with err set on failure; nothing stays loaded then. */
int oa_tpm_key_save(struct oa_tpm *t, const char *dir, char *err);
int oa_tpm_key_load(struct oa_tpm *t, const char *dir, char *err);
void oa_tpm_key_flush(struct oa_tpm *t);

/* Lets go of the TPM but keeps the signing key's blobs in t: its objects
 * are flushed and its connection closed; each later oa_tpm_sign_digest
 * (an oa_tpm_pkey signature) opens the TPM again, flushes what a crash
 * left, loads the key under the SRK, signs, and lets go again. For a TLS
 * key that signs at handshake time only: swtpm's single connection stays
 * free between handshakes. Nothing else may use t afterwards but
 * signatures and oa_tpm_close. -1 with err set when no key is loaded. */
int oa_tpm_release(struct oa_tpm *t, char *err);

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

/* The same for any digest: md is 256, 384 or 512 (SHA-2), len md/8;
 * pss: RSASSA-PSS (salt as long as the digest, as TLS 1.3 wants) for an
 * RSA key, else PKCS#1 v1.5 (with an ECDSA key, pss is an error).
 * -1 with err set when no key is loaded or the TPM refuses. */
int oa_tpm_sign_digest(struct oa_tpm *t, int md, bool pss, const uint8_t *digest, size_t len,
		       struct oa_buf *sig, char *err);
bool oa_tpm_key_is_ecc(const struct oa_tpm *t);

/* --- the TPM key as an OpenSSL key (tpm_pkey.c) ------------------------- */

/* An EVP_PKEY for t's signing key (the last oa_tpm_key_create or
 * oa_tpm_key_load) whose private operation (digest-and-sign: ECDSA, RSA
 * PKCS#1 v1.5 or PSS) is TPM2_Sign through t's own ESYS context: no second
 * TPM connection, no tpm2-openssl provider. It loads the "default"
 * provider and Orchard's built-in "orchard-tpm" provider into the default
 * library context on first use. The key refers to t: t must stay open and
 * its signing key loaded while the key is used; the caller frees the key
 * with EVP_PKEY_free. NULL with err set on failure. Use it with
 * SSL_use_PrivateKey (oa_http_client, oa_https_use_client). */
EVP_PKEY *oa_tpm_pkey(struct oa_tpm *t, char *err);

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
	long retry_after; /* Retry-After in seconds, 0 when absent */
};
void oa_resp_free(struct oa_resp *r);
int oa_http(const char *cacert, const char *method, const char *url, const char *content_type,
	    const char *body, size_t len, struct oa_resp *r, char *err);

/* Closes this thread's connection (oa_http keeps one open per thread) and
 * forgets its client credentials. */
void oa_http_done(void);

/* Mutual TLS for this thread's later oa_http calls, and every other
 * request of the shared client (oa_https_use_client, the same setting the
 * agent's requests use): pem is the client
 * certificate chain (leaf first, as ACME downloads it; copied), key its
 * private key (a reference is taken: oa_tpm_pkey's key, whose TPM must
 * stay open). pem or key NULL: no client certificate again. Closes the
 * thread's connection so the next request handshakes anew. -1 with err
 * set when the leaf (the first certificate in pem) is not key's, or on
 * allocation failure; nothing changes then. */
int oa_http_client(const struct oa_buf *pem, EVP_PKEY *key, char *err);

/* TLS 1.2 only (on) or the default (TLS 1.2 and 1.3) for this thread's
 * later connections; closes the current one. For tests and old peers. */
void oa_http_tls12(bool on);

/* POST url with JSON j (stolen) and parse the JSON answer into *out. */
int oa_post_json(const char *cacert, const char *url, json_t *j, long *status, json_t **out,
		 char *err);

struct oa_acme {
	const char *cacert;
	char *new_nonce, *new_account, *new_order;
	char *renewal_info; /* the directory's renewalInfo ("" when none) */
	char *kid;	    /* the account URL */
	char *nonce;	    /* the next Replay-Nonce */
	EVP_PKEY *key;
	char thumbprint[48]; /* base64url SHA-256 of the JWK (RFC 7638) */
	/* Made at the first JWS and kept (acme.c's es256): a signing context
	 * of key and SHA-256 fetched once, so a request does not fetch them
	 * and build a context again (OpenSSL 3.0's EVP_DigestSignInit). */
	EVP_PKEY_CTX *sign;
	EVP_MD *sha256;
};
void oa_acme_free(struct oa_acme *a);

/* Reads directory_url, makes a P-256 account key and registers it. */
int oa_acme_account(struct oa_acme *a, const char *cacert, const char *directory_url, char *err);

/* The same with the account key kept at key_path (PEM, created 0600 when
 * missing, else loaded): a renewal's `replaces` must come from the account
 * that ordered the certificate it replaces. NULL: as oa_acme_account. */
int oa_acme_account_at(struct oa_acme *a, const char *cacert, const char *directory_url,
		       const char *key_path, char *err);

/* RFC 9773: the certID of the first certificate in pem (base64url of its
 * authority key identifier "." base64url of its serial's DER content
 * octets), a new string the caller frees; NULL with err set. */
char *oa_acme_cert_id(const struct oa_buf *pem, char *err);

/* RFC 9773 renewalInfo: GET a->renewal_info/cert_id (no JWS): the
 * suggested window (epoch seconds) and Retry-After (seconds, 0 when
 * absent). An agent renews at a random time inside [start, end), at once
 * when end is past. -1 with err set (the status in it) otherwise. */
struct oa_renewal {
	long long start, end;
	long retry_after;
};
int oa_acme_renewal_info(struct oa_acme *a, const char *cert_id, struct oa_renewal *w, char *err);

/* When to renew (RFC 9773 section 4.2): a uniformly random second in
 * [max(start, now), end), or now when the window has ended. Epoch
 * seconds. */
long long oa_renewal_pick(const struct oa_renewal *w, long long now);

/* A JWS POST of payload (stolen; NULL: POST-as-GET) to url. */
int oa_acme_post(struct oa_acme *a, const char *url, json_t *payload, struct oa_resp *r, char *err);

/* Same, parsing the answer's JSON into *out. */
int oa_acme_post_json(struct oa_acme *a, const char *url, json_t *payload, long *status,
		      json_t **out, char **location, char *err);

/* --- the whole flow (flow.c) -------------------------------------------- */

/* How a flow ended: OA_OK; OA_FAILED (a local failure: err says why, step
 * names where, status 0); OA_REFUSED (Orchard answered step with HTTP
 * status; problem is its RFC 9457 body or NULL, owned by the outcome). */
enum { OA_OK = 0, OA_FAILED = 1, OA_REFUSED = 2 };
struct oa_outcome {
	const char *step; /* a static string: "ak-challenge", "order", ... */
	long status;
	json_t *problem;
};
void oa_outcome_free(struct oa_outcome *o);

struct oa_ak_opts {
	const char *server; /* Orchard's base URL, no trailing slash */
	const char *cacert; /* the root to trust (PEM file), NULL: the system's */
	bool ek_ecc;	    /* the P-384 EK at 0x81010016, else RSA at 0x81010001 */
	bool ak_rsa;	    /* an RSA-2048 AK, else ECC P-256 */
	bool no_ek_cert;    /* send no EK certificate (the enrollment pins the EK) */
};

/* The AK certificate chain: reads the EK (and its certificate from NV),
 * creates the AK (a primary: left loaded in t for certify and quote),
 * POST /attestation/ak/challenge, TPM2_ActivateCredential, POST
 * /attestation/ak/{id}/activate. chain[0..*nchain) receives the DER
 * certificates without the root (AK certificate first; the caller frees
 * each with oa_buf_free; chain has room for OA_CHAIN_MAX). */
int oa_flow_ak_chain(struct oa_tpm *t, const struct oa_ak_opts *o, struct oa_buf *chain,
		     size_t *nchain, struct oa_outcome *res, char *err);

/* The same from a chain saved earlier (oa_chain_save at path): the EK is
 * read and the AK created again (the same primary), no network. */
int oa_flow_ak_load(struct oa_tpm *t, const struct oa_ak_opts *o, const char *path,
		    struct oa_buf *chain, size_t *nchain, struct oa_outcome *res, char *err);

struct oa_cert_opts {
	const char *id;	      /* the identifier's value: the registrationId */
	const char *id_type;  /* NULL: "permanent-identifier" */
	bool key_rsa;	      /* an RSA-2048 TLS key, else ECC P-256 */
	const char *key_dir;  /* not NULL: the attested key saved there (oa_tpm_key_save) */
	const char *replaces; /* not NULL: the certID (oa_acme_cert_id) this order renews */
	uint32_t quote_mask;  /* not 0: a quote over these SHA-256 PCRs for the gate */
	const struct oa_buf *event_log; /* with the quote: the TCG log, or NULL */
	const char *csr_cn;		/* the CSR's subject CN, or NULL for none */
	/* Tests only: wrong evidence on purpose, and copies of what was sent. */
	const struct oa_buf *attobj_in; /* sent instead of the TPM's */
	const char *attobj_text;	/* sent verbatim as attObj */
	const uint8_t *qualify;		/* the qualifying data instead of SHA-256(ka) */
	size_t qualify_len;
	bool pubarea_other, csr_other;
	struct oa_buf *attobj_out, *csr_out; /* not NULL: filled with a copy */
	const char *then_order;		     /* a second newOrder by the same account */
};

/* A device certificate by device-attest-01, with the account in a
 * (oa_acme_account) and the AK of the last oa_flow_ak_* call on t: newOrder
 * (with replaces), the challenge answered with TPM2_Certify of a new TPM
 * key qualified with SHA-256(key authorization) (and a quote when asked),
 * finalize with a CSR the key signs, the certificate chain downloaded as
 * PEM into *pem (caller frees, and stores it), then the key saved under
 * key_dir (only then: a failure before leaves the saved key that matches
 * the certificate in use; a crash between the save and the caller's
 * write of the certificate leaves a pair oa_http_client refuses, which
 * means: attest again). The new key stays loaded in t as the signing key
 * for oa_tpm_pkey. On OA_FAILED/OA_REFUSED *pem is empty and res says
 * where; the account in a stays usable. */
int oa_flow_device_cert(struct oa_tpm *t, struct oa_acme *a, const struct oa_cert_opts *o,
			const struct oa_buf *chain, size_t nchain, struct oa_buf *pem,
			struct oa_outcome *res, char *err);

#endif
