/* Certificate profiles: lifetime, key usage, extended key usage and the
 * leaf key types each allows. Built in, or read from a small file: one
 * profile a line, "NAME LIFETIME KEY-USAGE EXT-KEY-USAGE KEY-TYPES", lists
 * comma-separated ("-" for no EKU), # comments. */
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/file.h"
#include "pki/pki_int.h"

static const char *const builtin[] = {
	"tls-server    7d  digitalSignature serverAuth            p256,p384,rsa,ed25519",
	"device-client 24h digitalSignature clientAuth            p256,p384,rsa,ed25519",
	"shortlived    6h  digitalSignature serverAuth,clientAuth p256,p384,rsa,ed25519",
};

/* Copies the next word of *p (blank-separated) into out; 0, or -1 when
 * there is none or it does not fit. */
static int word_next(const char **p, char *out, size_t cap)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	while (s[n] != '\0' && s[n] != ' ' && s[n] != '\t' && s[n] != '\r')
		n++;
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n;
	return 0;
}

static int keys_parse(const char *text, unsigned *out)
{
	unsigned keys = 0;

	for (const char *w = text, *comma; w != NULL; w = comma ? comma + 1 : NULL) {
		comma = strchr(w, ',');
		size_t n = comma ? (size_t)(comma - w) : strlen(w);
		if (n == 4 && strncmp(w, "p256", 4) == 0)
			keys |= PKI_KEY_P256;
		else if (n == 4 && strncmp(w, "p384", 4) == 0)
			keys |= PKI_KEY_P384;
		else if (n == 3 && strncmp(w, "rsa", 3) == 0)
			keys |= PKI_KEY_RSA;
		else if (n == 7 && strncmp(w, "ed25519", 7) == 0)
			keys |= PKI_KEY_ED25519;
		else
			return -1;
	}
	*out = keys;
	return keys ? 0 : -1;
}

/* Parses one profile line into p and makes its extensions. 0, 1 for a blank
 * or comment line, -1 for a bad one. */
static int line_parse(const char *line, struct pki_profile *p)
{
	char name[64], life[32], ku[128], eku[128], keys[128], extra[128], val[160];

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '\0' || *line == '#' || *line == '\r')
		return 1;
	if (word_next(&line, name, sizeof name) != 0 || word_next(&line, life, sizeof life) != 0 ||
	    word_next(&line, ku, sizeof ku) != 0 || word_next(&line, eku, sizeof eku) != 0 ||
	    word_next(&line, keys, sizeof keys) != 0 || word_next(&line, extra, sizeof extra) == 0)
		return -1;
	memset(p, 0, sizeof *p);
	if (strlen(name) >= sizeof p->name || (p->lifetime = duration_parse(life)) <= 0 ||
	    keys_parse(keys, &p->keys) != 0)
		return -1;
	memcpy(p->name, name, strlen(name) + 1);
	snprintf(p->key_usage, sizeof p->key_usage, "%s", ku);
	snprintf(p->ext_usage, sizeof p->ext_usage, "%s", strcmp(eku, "-") == 0 ? "" : eku);
	snprintf(val, sizeof val, "critical,%s", ku);
	p->ku = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, val);
	p->eku = p->ext_usage[0] ? X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, eku) : NULL;
	if (p->ku == NULL || (p->ext_usage[0] && p->eku == NULL)) {
		X509_EXTENSION_free(p->ku);
		X509_EXTENSION_free(p->eku);
		p->ku = p->eku = NULL;
		return -1;
	}
	snprintf(p->describe, sizeof p->describe, "%s, valid %s, key usage %s, keys %s",
		 p->ext_usage[0] ? p->ext_usage : "no EKU", life, ku, keys);
	return 0;
}

static int profile_add(struct pki_ca *ca, const char *line)
{
	struct pki_profile p;
	int r = line_parse(line, &p);

	if (r != 0)
		return r;
	if (ca->nprofiles == PKI_PROFILES_MAX || pki_profile_find(ca, p.name) != NULL) {
		X509_EXTENSION_free(p.ku);
		X509_EXTENSION_free(p.eku);
		return -1;
	}
	ca->profiles[ca->nprofiles] = p;
	ca->names[ca->nprofiles] = ca->profiles[ca->nprofiles].name;
	ca->nprofiles++;
	ca->names[ca->nprofiles] = NULL;
	return 0;
}

int pki_profiles_load(struct pki_ca *ca, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	int lineno = 0;

	if (path == NULL) {
		for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
			if (profile_add(ca, builtin[i]) != 0)
				goto bad;
		return 0;
	}
	if ((text = file_read(path, 64 * 1024, NULL)) == NULL) {
		snprintf(err, errlen, "cannot read the profile file %s", path);
		return -1;
	}
	for (char *l = text, *nl; l != NULL; l = nl ? nl + 1 : NULL) {
		nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		if (profile_add(ca, l) < 0)
			goto bad;
	}
	free(text);
	if (ca->nprofiles == 0) {
		snprintf(err, errlen, "%s names no profile", path);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen,
		 "%s:%d: want NAME LIFETIME KEY-USAGE EXT-KEY-USAGE|- KEY-TYPES (p256,p384,rsa,"
		 "ed25519), names unique, at most %d",
		 path ? path : "built-in", lineno, PKI_PROFILES_MAX);
	free(text);
	pki_profiles_free(ca);
	return -1;
}

void pki_profiles_free(struct pki_ca *ca)
{
	for (size_t i = 0; i < ca->nprofiles; i++) {
		X509_EXTENSION_free(ca->profiles[i].ku);
		X509_EXTENSION_free(ca->profiles[i].eku);
	}
	ca->nprofiles = 0;
	ca->names[0] = NULL;
}

const struct pki_profile *pki_profile_find(const struct pki_ca *ca, const char *name)
{
	for (size_t i = 0; name != NULL && i < ca->nprofiles; i++)
		if (strcmp(ca->profiles[i].name, name) == 0)
			return &ca->profiles[i];
	return NULL;
}

const char *const *pki_ca_profiles(const struct pki_ca *ca)
{
	return ca->names;
}

const char *pki_profile_describe(const struct pki_ca *ca, const char *name)
{
	const struct pki_profile *p = pki_profile_find(ca, name);

	return p ? p->describe : NULL;
}

long pki_profile_lifetime(const struct pki_ca *ca, const char *name)
{
	const struct pki_profile *p = pki_profile_find(ca, name);

	return p ? p->lifetime : -1;
}
