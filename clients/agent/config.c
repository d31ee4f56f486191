/* config.c: the agent's configuration file, "name = value" lines with '#'
 * comments (docs/agent.md). Unknown names are refused, so a typo never
 * silently drops a setting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clients/agent/agent.h"
#include "common/file.h"
#include "depot/depot.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static int set_str(char **slot, const char *v, const char *path, int line, const char *name)
{
	if (*slot) {
		fprintf(stderr, "orchard-agent: %s:%d: %s given twice\n", path, line, name);
		return -1;
	}
	*slot = strdup(v);
	return *slot ? 0 : -1;
}

static int add_key(struct agent_config *c, const char *file, const char *path, int line)
{
	size_t len;
	char id[DEPOT_KEY_ID_LEN + 1];
	char *pem = file_read(file, 65536, &len);
	EVP_PKEY *k = pem ? depot_key_parse(pem, len, id) : NULL;
	free(pem);
	if (!k) {
		fprintf(stderr, "orchard-agent: %s:%d: %s is not an Ed25519 PEM public key\n", path,
			line, file);
		return -1;
	}
	if (c->nkeys == AGENT_KEYS_MAX) {
		EVP_PKEY_free(k);
		fprintf(stderr, "orchard-agent: %s:%d: more than %d publisher keys\n", path, line,
			AGENT_KEYS_MAX);
		return -1;
	}
	c->keys[c->nkeys++] = k;
	return 0;
}

static int mkdir_0700(const char *dir)
{
	struct stat st;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "orchard-agent: state_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "orchard-agent: state_dir %s is not a folder\n", dir);
		return -1;
	}
	if ((st.st_mode & 077) && chmod(dir, 0700) < 0) {
		fprintf(stderr, "orchard-agent: state_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int agent_config_load(struct agent_config *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "orchard-agent: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char buf[4096];
	int line = 0, rc = 0;
	while (rc == 0 && fgets(buf, sizeof(buf), f)) {
		line++;
		char *s = trim(buf);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr, "orchard-agent: %s:%d: expected name = value\n", path,
				line);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *name = trim(s), *v = trim(eq + 1);
		if (!*v) {
			fprintf(stderr, "orchard-agent: %s:%d: %s has no value\n", path, line,
				name);
			rc = -1;
		} else if (!strcmp(name, "url")) {
			rc = set_str(&c->url, v, path, line, name);
			size_t n = c->url ? strlen(c->url) : 0;
			while (n && c->url[n - 1] == '/')
				c->url[--n] = '\0';
		} else if (!strcmp(name, "id_scope")) {
			rc = set_str(&c->id_scope, v, path, line, name);
		} else if (!strcmp(name, "ca_file")) {
			rc = set_str(&c->ca_file, v, path, line, name);
		} else if (!strcmp(name, "state_dir")) {
			rc = set_str(&c->state_dir, v, path, line, name);
		} else if (!strcmp(name, "tcti")) {
			rc = set_str(&c->tcti, v, path, line, name);
		} else if (!strcmp(name, "registration_id")) {
			rc = set_str(&c->registration_id, v, path, line, name);
		} else if (!strcmp(name, "symmetric_key")) {
			rc = set_str(&c->symmetric_key, v, path, line, name);
		} else if (!strcmp(name, "publisher_key")) {
			rc = add_key(c, v, path, line);
		} else {
			fprintf(stderr, "orchard-agent: %s:%d: unknown setting %s\n", path, line,
				name);
			rc = -1;
		}
	}
	fclose(f);
	if (rc < 0)
		return -1;
	const char *missing = !c->url	      ? "url"
			      : !c->id_scope  ? "id_scope"
			      : !c->state_dir ? "state_dir"
					      : NULL;
	if (missing) {
		fprintf(stderr, "orchard-agent: %s: %s is required\n", path, missing);
		return -1;
	}
	/* tcti without symmetric_key: the DPS TPM flow (registration_id
	 * optional, derived from the EK); symmetric_key needs registration_id. */
	if (c->symmetric_key ? !c->registration_id : !c->tcti) {
		fprintf(stderr,
			"orchard-agent: %s: give tcti, or registration_id and symmetric_key\n",
			path);
		return -1;
	}
	if (c->nkeys == 0) {
		fprintf(stderr,
			"orchard-agent: %s: no publisher_key: the agent would run nothing\n", path);
		return -1;
	}
	return mkdir_0700(c->state_dir);
}

void agent_config_free(struct agent_config *c)
{
	free(c->url);
	free(c->id_scope);
	free(c->ca_file);
	free(c->state_dir);
	free(c->tcti);
	free(c->registration_id);
	free(c->symmetric_key);
	for (size_t i = 0; i < c->nkeys; i++)
		EVP_PKEY_free(c->keys[i]);
	memset(c, 0, sizeof(*c));
}
