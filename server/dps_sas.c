/* Device SAS tokens for the DPS device API: parsing, audience, signature
 * (constant time), group-derived device keys. */
#include "server/dps_sas.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/b64.h"
#include "common/ct.h"

bool dps_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > DPS_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)id[i];
		if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_' && ch != ':')
			return false;
	}
	return isalnum((unsigned char)id[n - 1]) || id[n - 1] == '-';
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes n bytes of in into out (room for n + 1); '+' stays.
 * -1 on a bad escape or a decoded NUL. */
static int url_decode(const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] != '%') {
			out[o++] = in[i];
			continue;
		}
		if (i + 2 >= n)
			return -1;
		int hi = hexval((unsigned char)in[i + 1]), lo = hexval((unsigned char)in[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return 0;
}

static int copy_field(char *dst, size_t cap, const char *v, size_t n)
{
	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

int dps_sas_parse(const char *header, struct dps_sas *out, const char **why)
{
	static const char prefix[] = "SharedAccessSignature ";
	bool have_sr = false, have_sig = false, have_se = false, have_skn = false;
	char sig[128];

	memset(out, 0, sizeof *out);
	*why = "no SharedAccessSignature in Authorization";
	if (header == NULL || strncasecmp(header, prefix, sizeof prefix - 1) != 0)
		return -1;
	const char *p = header + sizeof prefix - 1;
	*why = "malformed SharedAccessSignature";
	while (*p != '\0') {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL)
			return -1;
		size_t kn = (size_t)(eq - p), vn = (size_t)(end - eq - 1);
		const char *v = eq + 1;
		if (kn == 2 && memcmp(p, "sr", 2) == 0 && !have_sr) {
			if (copy_field(out->sr, sizeof out->sr, v, vn) != 0)
				return -1;
			have_sr = true;
		} else if (kn == 3 && memcmp(p, "sig", 3) == 0 && !have_sig) {
			char raw[128];
			size_t len = 0;
			if (vn >= sizeof raw || copy_field(raw, sizeof raw, v, vn) != 0 ||
			    url_decode(raw, vn, sig) != 0)
				return -1;
			uint8_t dec[96];
			if (b64_decoded_max(strlen(sig)) > sizeof dec ||
			    b64_decode_into(sig, strlen(sig), 0, dec, &len) != 0 || len != 32)
				return -1;
			memcpy(out->sig, dec, 32);
			have_sig = true;
		} else if (kn == 2 && memcmp(p, "se", 2) == 0 && !have_se) {
			if (copy_field(out->se, sizeof out->se, v, vn) != 0 || vn > 18)
				return -1;
			for (size_t i = 0; i < vn; i++)
				if (!isdigit((unsigned char)v[i]))
					return -1;
			out->expiry = strtoll(out->se, NULL, 10);
			have_se = true;
		} else if (kn == 3 && memcmp(p, "skn", 3) == 0 && !have_skn) {
			/* Optional, and may be empty (the C SDK's TPM path). */
			if (vn >= sizeof out->skn)
				return -1;
			memcpy(out->skn, v, vn);
			out->skn[vn] = '\0';
			have_skn = true;
		} else {
			return -1; /* unknown or repeated */
		}
		p = amp ? amp + 1 : end;
	}
	if (!have_sr || !have_sig || !have_se)
		return -1;
	*why = NULL;
	return 0;
}

bool dps_sas_audience_ok(const struct dps_sas *t, const char *scope, const char *registration_id)
{
	char aud[sizeof t->sr], want[sizeof t->sr];
	int n;

	if (url_decode(t->sr, strlen(t->sr), aud) != 0)
		return false;
	n = snprintf(want, sizeof want, "%s/registrations/%s", scope, registration_id);
	if (n < 0 || (size_t)n >= sizeof want)
		return false;
	return strcasecmp(aud, want) == 0;
}

bool dps_sas_host_ok(const struct dps_sas *t, const char *host)
{
	char aud[sizeof t->sr];
	const char *colon;
	size_t hn;

	if (host == NULL || *host == '\0' || url_decode(t->sr, strlen(t->sr), aud) != 0)
		return false;
	if (strcasecmp(aud, host) == 0)
		return true;
	/* "name:port" in Host, the bare name in sr (Node's service SDK); an
	 * IPv6 literal's colons sit inside its brackets. */
	colon = strrchr(host, ':');
	if (colon == NULL || strchr(colon, ']') != NULL)
		return false;
	hn = (size_t)(colon - host);
	return strlen(aud) == hn && strncasecmp(aud, host, hn) == 0;
}

bool sas_expiry_ok(const struct dps_sas *t, long long now)
{
	return t->expiry + DPS_SAS_SKEW >= now && t->expiry <= now + DPS_SAS_MAX_TTL + DPS_SAS_SKEW;
}

int hub_sas_device_id(const struct dps_sas *t, char *out, size_t len)
{
	char aud[sizeof t->sr], id[sizeof t->sr];
	const char *p, *d;

	if (url_decode(t->sr, strlen(t->sr), aud) != 0)
		return -1;
	if (strncasecmp(aud, "devices/", 8) == 0) {
		d = aud + 8;
	} else {
		p = strchr(aud, '/');
		if (p == NULL || p == aud || strncasecmp(p + 1, "devices/", 8) != 0)
			return -1;
		d = p + 9;
	}
	if (*d == '\0' || strchr(d, '/') != NULL)
		return -1;
	/* Encoded twice (the Node SDK encodes the ID, then the whole sr)? */
	if (strchr(d, '%') != NULL && url_decode(d, strlen(d), id) == 0 && strchr(id, '/') == NULL)
		d = id;
	if (strlen(d) >= len)
		return -1;
	memcpy(out, d, strlen(d) + 1);
	return 0;
}

/* HMAC-SHA256 of data with the base64 key; -1 when the key is bad. */
static int hmac_b64key(const char *key_b64, const void *data, size_t n, unsigned char mac[32])
{
	uint8_t key[DPS_KEY_B64_MAX];
	size_t klen = 0;
	unsigned mlen = 0;
	int rc = -1;

	if (key_b64 == NULL || b64_decoded_max(strlen(key_b64)) > sizeof key ||
	    b64_decode_into(key_b64, strlen(key_b64), 0, key, &klen) != 0 || klen == 0)
		goto out;
	if (HMAC(EVP_sha256(), key, (int)klen, data, n, mac, &mlen) != NULL && mlen == 32)
		rc = 0;
out:
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

bool dps_sas_signed_with(const struct dps_sas *t, const char *key_b64)
{
	char msg[sizeof t->sr + sizeof t->se + 1];
	unsigned char mac[32];
	bool ok;
	int n = snprintf(msg, sizeof msg, "%s\n%s", t->sr, t->se);

	if (n < 0 || (size_t)n >= sizeof msg || hmac_b64key(key_b64, msg, (size_t)n, mac) != 0)
		return false;
	ok = ct_equal(mac, t->sig, sizeof mac);
	OPENSSL_cleanse(mac, sizeof mac);
	return ok;
}

/* Encodes a secret key into out (base64), wiping the key and every copy. */
static int key_to_b64(unsigned char *key, size_t n, char out[DPS_KEY_B64_MAX])
{
	char *b = b64_encode(key, n, 0);

	OPENSSL_cleanse(key, n);
	if (b == NULL)
		return -1;
	snprintf(out, DPS_KEY_B64_MAX, "%s", b);
	OPENSSL_cleanse(b, strlen(b));
	free(b);
	return 0;
}

int dps_derive_device_key(const char *group_key_b64, const char *registration_id,
			  char out[DPS_KEY_B64_MAX])
{
	unsigned char mac[32];

	if (hmac_b64key(group_key_b64, registration_id, strlen(registration_id), mac) != 0)
		return -1;
	return key_to_b64(mac, sizeof mac, out);
}

int dps_key_generate(char out[DPS_KEY_B64_MAX])
{
	unsigned char key[DPS_KEY_MAX];

	if (RAND_bytes(key, sizeof key) != 1)
		return -1;
	return key_to_b64(key, sizeof key, out);
}
