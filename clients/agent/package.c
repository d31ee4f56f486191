/* package.c: an app's package on the device. Fetch it from the depot with
 * the device SAS (the module resumed with Range into state_dir), verify the
 * publisher's signature over the canonical manifest and the module's
 * digest, and bound its capabilities by the twin's grants. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "common/b64.h"
#include "common/file.h"
#include "common/log.h"
#include "depot/depot.h"

#define MODULE_MAX (64ull << 20)

int package_dir(const struct agent_config *c, const char *ref, char out[4096])
{
	char pub[DEPOT_NAME_MAX + 1], name[DEPOT_NAME_MAX + 1], ver[DEPOT_NAME_MAX + 1];

	if (depot_ref_parse(ref, pub, name, ver) < 0)
		return -1;
	snprintf(out, 4096, "%s/pkg/%s/%s/%s", c->state_dir, pub, name, ver);
	return 0;
}

/* SHA-256 of a file into hex; 0 or -1. */
static int file_sha256(const char *path, char hex[65])
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536], md[32];
	size_t n;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		ok = EVP_DigestUpdate(ctx, buf, n);
	ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	fclose(f);
	for (int i = 0; ok && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return ok ? 0 : -1;
}

int package_verify(const struct agent_config *c, const char *dir, struct depot_manifest *m,
		   const char **why)
{
	char path[4200], hex[65];
	size_t mlen = 0, slen = 0;
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	char *man = file_read(path, DEPOT_MANIFEST_MAX, &mlen);
	snprintf(path, sizeof(path), "%s/manifest.sig", dir);
	char *sig = file_read(path, 1024, &slen);
	int rc = -1;
	bool good = false;
	*why = "package files missing";
	if (!man || !sig || slen != DEPOT_SIG_LEN)
		goto out;
	for (size_t i = 0; i < c->nkeys && !good; i++)
		good = depot_verify(c->keys[i], (const uint8_t *)man, mlen, (const uint8_t *)sig,
				    slen) == 0;
	*why = "signature does not verify with a trusted publisher key";
	if (!good)
		goto out;
	if (depot_manifest_parse(man, mlen, 1, m, why) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/module.wasm", dir);
	*why = "module digest mismatch";
	if (file_sha256(path, hex) < 0 || strcmp(hex, m->module_hex) != 0) {
		depot_manifest_free(m);
		goto out;
	}
	rc = 0;
out:
	free(man);
	free(sig);
	return rc;
}

int package_fetch(const struct agent_config *c, const struct agent_identity *id, const char *ref,
		  struct depot_manifest *m, char dir[4096], const char **why)
{
	char pub[DEPOT_NAME_MAX + 1], name[DEPOT_NAME_MAX + 1], ver[DEPOT_NAME_MAX + 1];
	if (depot_ref_parse(ref, pub, name, ver) < 0) {
		*why = "not a package reference {publisher}/pkg/{name}/{version}";
		return -1;
	}
	package_dir(c, ref, dir);
	if (package_verify(c, dir, m, why) == 0)
		return 0; /* downloaded before */
	if (file_mkdir_p(dir) < 0) {
		*why = "cannot create the package folder";
		return -2;
	}
	char url[4096], path[4200];
	char *sas = device_auth(c, id);
	snprintf(url, sizeof(url), "%s/depot/%s/pkg/%s/%s", c->url, pub, name, ver);
	struct http_reply r;
	int ret = -2;
	if (!sas || http_json(c, "GET", url, sas, NULL, 30, &r) < 0) {
		*why = "Orchard unreachable";
		free(sas);
		return -2;
	}
	json_t *j = r.status == 200 ? json_loads(r.body ? r.body : "", 0, NULL) : NULL;
	const char *sig64 = json_string_value(json_object_get(j, "signature"));
	size_t clen = 0, slen = 0;
	char *canon = NULL;
	uint8_t *sig = NULL;
	if (r.status == 404) {
		*why = "no such package in the depot";
		ret = -1;
		goto out;
	}
	if (r.status != 200) {
		*why = r.status >= 500 ? "depot unavailable" : "depot refused the download";
		ret = r.status >= 500 ? -2 : -1;
		goto out;
	}
	canon = depot_canonical(json_object_get(j, "manifest"), &clen);
	sig = sig64 ? b64_decode(sig64, strlen(sig64), 0, &slen) : NULL;
	*why = "depot answer without manifest or signature";
	ret = -1;
	if (!canon || !sig || slen != DEPOT_SIG_LEN)
		goto out;
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if (file_write_atomic(path, canon, clen) < 0)
		goto disk;
	snprintf(path, sizeof(path), "%s/manifest.sig", dir);
	if (file_write_atomic(path, sig, slen) < 0)
		goto disk;
	/* Check the signature before fetching a module it might not pin. */
	if (package_verify(c, dir, m, why) == 0) {
		ret = 0;
		goto out;
	}
	if (strcmp(*why, "module digest mismatch") != 0)
		goto out;
	char part[4200], final[4200];
	snprintf(part, sizeof(part), "%s/module.part", dir);
	snprintf(final, sizeof(final), "%s/module.wasm", dir);
	snprintf(url, sizeof(url), "%s/depot/%s/pkg/%s/%s/module", c->url, pub, name, ver);
	struct stat pst;
	bool resumed = stat(part, &pst) == 0 && pst.st_size > 0;
	for (;;) {
		long st = http_download(c, url, sas, part, MODULE_MAX);
		if (st == -2)
			goto disk; /* kept as it is: resumed once there is room */
		if (st < 0 || st >= 500) {
			*why = "module download interrupted";
			ret = -2;
			goto out;
		}
		if (st != 200 && st != 206 && st != 416) {
			*why = "depot refused the module download";
			goto out;
		}
		if (rename(part, final) < 0)
			goto disk;
		if (package_verify(c, dir, m, why) == 0) {
			ret = 0;
			goto out;
		}
		unlink(final); /* a wrong module is never kept */
		if (!resumed)
			goto out;
		/* What the resumed download began with was bad: once more, whole. */
		log_kv(LOG_WARN,
		       "resumed module download did not match its digest; fetching it whole",
		       "package", ref, NULL);
		resumed = false;
	}
	goto out;
disk:
	*why = "cannot write the package (disk full?)";
	ret = -2;
out:
	free(canon);
	free(sig);
	json_decref(j);
	http_reply_free(&r);
	free(sas);
	return ret;
}

static bool json_array_has(const json_t *arr, const json_t *v)
{
	size_t i;
	json_t *x;
	json_array_foreach (arr, i, x) {
		if (json_equal(x, v))
			return true;
	}
	return false;
}

int package_check_grants(const struct depot_manifest *m, const json_t *bound, const char **why)
{
	if (!bound || json_is_null(bound))
		return 0;
	json_t *caps = json_object_get(m->doc, "capabilities");
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(caps, "listen"), i, v) {
		if (!json_array_has(json_object_get(bound, "listen"), v)) {
			*why = "the manifest asks for a listen port the twin does not grant";
			return -1;
		}
	}
	json_array_foreach (json_object_get(caps, "connect"), i, v) {
		if (!json_array_has(json_object_get(bound, "connect"), v)) {
			*why = "the manifest asks for a connect address the twin does not grant";
			return -1;
		}
	}
	if (m->dir && !json_is_true(json_object_get(bound, "dir"))) {
		*why = "the manifest asks for a data folder the twin does not grant";
		return -1;
	}
	json_t *mem = json_object_get(bound, "memoryMiB");
	if (mem && (!json_is_integer(mem) || m->memory_mib > json_integer_value(mem))) {
		*why = "the manifest asks for more memory than the twin grants";
		return -1;
	}
	json_t *cpu = json_object_get(bound, "cpuSeconds");
	if (cpu && (!json_is_integer(cpu) || m->cpu_seconds == 0 ||
		    m->cpu_seconds > json_integer_value(cpu))) {
		*why = "the manifest asks for more CPU time than the twin grants";
		return -1;
	}
	return 0;
}
