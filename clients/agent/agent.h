/* agent.h: orchard-agent's parts (docs/agent.md). One process, one thread:
 * config → provisioning (DPS) → twin follow → package fetch/verify → the
 * app in the WASM runtime's supervisor. */
#ifndef ORCHARD_AGENT_H
#define ORCHARD_AGENT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_VERSION "0.1.0"
#define AGENT_KEYS_MAX 16

struct agent_config {
	char *url; /* Orchard's base URL, no trailing slash */
	char *id_scope;
	char *ca_file;
	char *state_dir;
	char *tcti;
	char *event_log; /* the TCG event log sent with the quote, or NULL */
	char *registration_id;
	char *symmetric_key; /* base64 */
	EVP_PKEY *keys[AGENT_KEYS_MAX];
	size_t nkeys;
};

/* Reads FILE ("name = value" lines, '#' comments, publisher_key repeatable)
 * and creates state_dir (0700). 0, or -1 with a line on stderr. */
int agent_config_load(struct agent_config *c, const char *path);
void agent_config_free(struct agent_config *c);

/* The identity provisioning gives: the device ID and the host its SAS names;
 * for a TPM device, the hub key the TPM imported (TPM2B_PUBLIC and its
 * SRK-wrapped TPM2B_PRIVATE: useless outside that TPM). */
struct agent_identity {
	char device_id[129];
	char hub[256];
	uint8_t key_pub[1024];
	size_t key_pub_len;
	uint8_t key_priv[2048];
	size_t key_priv_len;
};

/* --- http.c ---------------------------------------------------------------------- */
extern volatile sig_atomic_t agent_stopping;
/* Called during transfers; a non-zero return aborts the transfer (the
 * main loop then sees why: a stop or an app that ended). */
extern int (*agent_interrupt)(void);

struct http_reply {
	long status;
	char *body; /* NUL-ended; NULL when none */
	size_t len;
	long retry_after; /* seconds, -1 when absent */
};
void http_reply_free(struct http_reply *r);
/* One request: method, full URL, an Authorization value or NULL, a JSON
 * body or NULL, a total timeout. 0 with *r filled (any status), -1 on a
 * transport failure (logged). */
int http_json(const struct agent_config *c, const char *method, const char *url, const char *auth,
	      const char *body, long timeout_s, struct http_reply *r);
/* Downloads url into path, resuming (Range) from what path holds. Returns
 * the final status (200/206 done, 416 when the file is already whole), -1
 * on a transport failure, or -2 when path cannot be written (disk full, a
 * file size limit: what was written stays, to resume from). */
long http_download(const struct agent_config *c, const char *url, const char *auth,
		   const char *path, uint64_t max);
/* "SharedAccessSignature sr=...&sig=...&se=..." for sr with key (base64),
 * valid ttl seconds, "&skn=NAME" appended when skn is not NULL. malloc'd. */
char *sas_token(const char *sr, const char *key_b64, long ttl, const char *skn);
/* Mutual TLS: every later request presents chain_pem (leaf first) as its
 * client certificate with key (a reference is taken; a TPM key's TPM must
 * stay open while requests run). NULL clears. -1 when the leaf is not
 * key's or the PEM does not parse; nothing changes then. */
int http_use_client(const char *chain_pem, EVP_PKEY *key);
/* Frees the TLS context the requests share (at exit). */
void http_cleanup(void);
/* The same with the HMAC-SHA256 made by mac_fn (0, or -1: no token). */
typedef int (*sas_mac_fn)(void *mac_ctx, const uint8_t *msg, size_t n, uint8_t mac[32]);
char *sas_sign(const char *sr, long ttl, const char *skn, sas_mac_fn mac_fn, void *mac_ctx);

/* --- tpm.c (TPM devices: tcti set, no symmetric_key) ------------------------------- */
struct oa_tpm;
/* Opens the TPM and flushes what a crashed process left (logged). NULL
 * (logged) when it cannot. */
struct oa_tpm *tpm_open(const struct agent_config *c);
/* A SAS for sr signed by TPM2_HMAC with the key blobs (loaded under the
 * SRK, flushed after), the TPM opened for this call only. malloc'd or NULL
 * (logged). */
char *tpm_sas(const struct agent_config *c, const uint8_t *pub, size_t publen, const uint8_t *priv,
	      size_t privlen, const char *sr, long ttl, const char *skn);
/* The device's IoT Hub SAS for its own routes ({hub}/devices/{id}): the
 * symmetric key's HMAC, or the TPM's, kept and reused until ten minutes
 * before it expires. malloc'd or NULL. */
char *device_sas(const struct agent_config *c, const struct agent_identity *id);
/* Forgets the kept SAS (the hub refused it). */
void device_sas_forget(void);

/* --- cert.c (TPM devices: the device certificate, mutual TLS) -------------------- */
/* Reads state_dir/tls/ (a certificate expired while the agent was off is
 * dropped: attested again from scratch). Nothing for a device without a
 * TPM. */
void cert_start(const struct agent_config *c);
/* Gets, renews (inside the ARI window) or asks again for the device
 * certificate when due; reports reported.certificate and
 * reported.attestation. Seconds until it has work again. */
int cert_tick(const struct agent_config *c, const struct agent_identity *id);
/* The hub refused the certificate (401): drops it (the SAS is used until a
 * new one comes). Whether there was one. */
bool cert_rejected(void);
/* The Authorization for one request to the device's own routes: "" when
 * the request goes over mutual TLS with the TPM-held key (presented by
 * http.c; the TPM opened for the handshake's signature only), else the
 * device SAS. malloc'd, NULL when there is no credential (logged). */
char *device_auth(const struct agent_config *c, const struct agent_identity *id);
/* Stops presenting the certificate until the next device_auth (before a
 * DPS registration, which would take it for X.509 attestation). */
void cert_unpresent(void);
void cert_cleanup(void);

/* --- dps.c ----------------------------------------------------------------------- */
/* Registers with DPS unless state_dir/registration.json already holds an
 * assignment; retries with backoff until assigned or stopped. 0 or -1. */
int dps_provision(const struct agent_config *c, struct agent_identity *id);
/* Forgets the assignment (the hub refused the device): the next
 * dps_provision registers again. */
void dps_forget(const struct agent_config *c);

/* --- compiled.c ------------------------------------------------------------------ */
struct depot_manifest;
/* This device's target, e.g. "x86_64-linux-gnu" (the runtime's). */
const char *compiled_target(void);
/* The depot's compiled form of the verified package ref in dir (m its
 * manifest): checked on disk, else (fetch) downloaded and checked. 0 with
 * out the .cwasm to run; else *why (run the interpreter): -1 refused (a
 * statement or .cwasm that does not check), -2 not there (yet: none for
 * this target, Orchard unreachable), worth asking again later. */
int compiled_get(const struct agent_config *c, const struct agent_identity *id, const char *ref,
		 const char *dir, const struct depot_manifest *m, bool fetch, char out[4200],
		 const char **why);
void compiled_cleanup(void);

/* --- package.c ------------------------------------------------------------------- */
struct depot_manifest;
/* The folder of package ref ({publisher}/pkg/{name}/{version}) under
 * state_dir: 0, or -1 when ref is not a package reference. */
int package_dir(const struct agent_config *c, const char *ref, char out[4096]);
/* Verifies the package in dir (manifest.json, manifest.sig, module.wasm):
 * a trusted publisher's signature, a valid manifest, the module's digest.
 * Every start goes through it, downloaded now or resumed after a reboot.
 * 0 with *m filled (depot_manifest_free), or -1 with *why. */
int package_verify(const struct agent_config *c, const char *dir, struct depot_manifest *m,
		   const char **why);
/* Downloads ref into its folder (dir) and verifies it. 0; -1 refused for
 * good; -2 transient (Orchard unreachable, 5xx, disk full): try again later. */
int package_fetch(const struct agent_config *c, const struct agent_identity *id, const char *ref,
		  struct depot_manifest *m, char dir[4096], const char **why);
/* The twin's grants bound the manifest's capabilities: anything the
 * manifest asks beyond them refuses the start (-1, *why). NULL grants: no
 * bound. */
int package_check_grants(const struct depot_manifest *m, const json_t *bound, const char **why);

/* --- app.c ----------------------------------------------------------------------- */
struct app;
struct app *app_new(const struct agent_config *c, const struct agent_identity *id);
void app_free(struct app *a);
/* Starts the last good app saved in state_dir, if any (no network needed). */
void app_resume(struct app *a);
/* Follows desired.app (NULL or not an object: nothing to run). */
void app_follow(struct app *a, const json_t *desired_app);
/* Watches the running app: restarts it with backoff when it ended. */
void app_tick(struct app *a);
/* Whether the running app has ended (checked during long polls). */
int app_ended(struct app *a);
/* Seconds until app_tick has work (a restart or a retry), at most 20. */
int app_next_tick(const struct app *a);
/* Whether the app ended since the last look (aborts a long poll). */
int app_newly_ended(struct app *a);
/* Stops the app (SIGTERM, then SIGKILL). */
void app_stop(struct app *a);
/* Merges patch into reported (the twin's device API). */
void report(const struct agent_config *c, const struct agent_identity *id, json_t *patch);

#endif
