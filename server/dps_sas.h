/* Azure DPS device SAS tokens: "SharedAccessSignature sr=...&sig=...&se=...
 * [&skn=registration]", sig = base64(HMAC-SHA256(key, sr + "\n" + se)).
 * Pure functions: no HTTP, no database (tests/unit/server/test_dps_sas.c). */
#ifndef ORCHARD_DPS_SAS_H
#define ORCHARD_DPS_SAS_H
#include <stdbool.h>
#include <stddef.h>

/* Clock skew tolerated on a token's expiry, and the longest lifetime
 * accepted: a token that expires further ahead is refused as future-dated. */
#define DPS_SAS_SKEW 300
#define DPS_SAS_MAX_TTL (30LL * 86400)

/* A key as Azure hands them out: base64 of 16 to 64 bytes. */
#define DPS_KEY_MIN 16
#define DPS_KEY_MAX 64
#define DPS_KEY_B64_MAX 89 /* base64 of 64 bytes, NUL included */

/* The registration IDs Azure accepts: 1-128 of [A-Za-z0-9-._:], the last
 * alphanumeric or '-'. */
#define DPS_ID_MAX 128
bool dps_id_valid(const char *id);

struct dps_sas {
	char sr[512]; /* exactly as received (still URL-encoded) */
	char se[24];  /* as received: the HMAC covers these characters */
	long long expiry;
	unsigned char sig[32]; /* decoded */
	char skn[64];	       /* "" when absent */
};

/* Parses an Authorization header value. 0, or -1 when it is not a
 * well-formed SAS (reason in *why, static). */
int dps_sas_parse(const char *header, struct dps_sas *out, const char **why);

/* Whether the URL-decoded sr names "{scope}/registrations/{regid}",
 * compared case-insensitively (clients encode and case it differently). */
bool dps_sas_audience_ok(const struct dps_sas *t, const char *scope, const char *registration_id);

/* The service SAS's audience: whether the URL-decoded sr names host (the
 * request's Host header), compared case-insensitively, with or without
 * its port; a trailing path after the host name is refused. */
bool dps_sas_host_ok(const struct dps_sas *t, const char *host);

/* Whether the token's expiry lies ahead of now (DPS_SAS_SKEW tolerated)
 * and no further than DPS_SAS_MAX_TTL: DPS and IoT Hub tokens alike. */
bool sas_expiry_ok(const struct dps_sas *t, long long now);

/* IoT Hub's device audience: the URL-decoded sr is "[host/]devices/{id}"
 * (any host: the key is the device's own, and orchardd answers to several
 * names), the ID URL-encoded once more or not, as SDKs differ. Writes the
 * decoded device ID into out (len bytes). 0, or -1 when sr names no device. */
int hub_sas_device_id(const struct dps_sas *t, char *out, size_t len);

/* Whether the token was signed with key_b64 (a base64 key), compared in
 * constant time. A key that is not valid base64 matches nothing. */
bool dps_sas_signed_with(const struct dps_sas *t, const char *key_b64);

/* A group's device key: base64(HMAC-SHA256(base64-decoded group key,
 * registration_id)) into out. 0, or -1 when the group key is bad. */
int dps_derive_device_key(const char *group_key_b64, const char *registration_id,
			  char out[DPS_KEY_B64_MAX]);

/* A new random key of 64 bytes, base64, into out. 0 or -1. */
int dps_key_generate(char out[DPS_KEY_B64_MAX]);

#endif
