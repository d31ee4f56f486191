/* tpm.c: the agent's TPM (docs/agent.md "TPM devices"): device SAS tokens
 * signed by TPM2_HMAC with the hub key DPS gave, imported under the SRK.
 * The TPM is opened for each signature and closed after, so the agent
 * never holds swtpm's one connection (or an object slot) between uses;
 * the hub SAS is kept for its hour, less ten minutes, so that is rare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/agent/agent.h"
#include "clients/attest/dps_tpm.h"
#include "common/log.h"

#define SAS_TTL 3600
#define SAS_MARGIN 600

struct tpm_key {
	struct oa_tpm *t;
	struct oa_buf pub, priv;
};

static int tpm_mac(void *ctx, const uint8_t *msg, size_t n, uint8_t mac[32])
{
	struct tpm_key *k = ctx;
	char err[OA_ERR_MAX] = "";
	if (oa_tpm_dps_hmac(k->t, &k->pub, &k->priv, msg, n, mac, err) == 0)
		return 0;
	log_kv(LOG_ERROR, "the TPM did not sign", "error", err, NULL);
	return -1;
}

char *tpm_sas(const struct agent_config *c, const uint8_t *pub, size_t publen, const uint8_t *priv,
	      size_t privlen, const char *sr, long ttl, const char *skn)
{
	char err[OA_ERR_MAX] = "";
	int flushed = 0;
	struct tpm_key k = {.pub = {(uint8_t *)pub, publen}, .priv = {(uint8_t *)priv, privlen}};
	if ((k.t = oa_tpm_open_clean(c->tcti, &flushed, err)) == NULL) {
		log_kv(LOG_ERROR, "cannot open the TPM", "tcti", c->tcti, "error", err, NULL);
		return NULL;
	}
	if (flushed > 0) {
		char nb[16];
		snprintf(nb, sizeof(nb), "%d", flushed);
		log_kv(LOG_WARN, "flushed objects a crash left in the TPM", "count", nb, NULL);
	}
	char *sas = sas_sign(sr, ttl, skn, tpm_mac, &k);
	oa_tpm_close(k.t);
	return sas;
}

static char *kept;
static time_t kept_until;
static char kept_sr[512];

char *device_sas(const struct agent_config *c, const struct agent_identity *id)
{
	char sr[512];
	snprintf(sr, sizeof(sr), "%s/devices/%s", id->hub, id->device_id);
	if (c->symmetric_key)
		return sas_token(sr, c->symmetric_key, SAS_TTL, NULL);
	time_t now = time(NULL);
	if (!kept || now >= kept_until || strcmp(sr, kept_sr) != 0) {
		device_sas_forget();
		kept = tpm_sas(c, id->key_pub, id->key_pub_len, id->key_priv, id->key_priv_len, sr,
			       SAS_TTL, NULL);
		if (!kept)
			return NULL;
		kept_until = now + SAS_TTL - SAS_MARGIN;
		snprintf(kept_sr, sizeof(kept_sr), "%s", sr);
		log_kv(LOG_INFO, "the TPM signed a device SAS", "sr", sr, NULL);
	}
	return strdup(kept);
}

void device_sas_forget(void)
{
	free(kept);
	kept = NULL;
	kept_until = 0;
}
