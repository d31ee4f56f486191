/* compiled.c: the depot's compiled (AOT) form of a verified package, for
 * this device's target (docs/depot.md, "Compiled forms"). The depot key is
 * fetched from Orchard over the verified TLS connection on first use and
 * pinned in state_dir/depot.pub; a statement is accepted only when it
 * verifies with that key and names this package's module digest, this
 * target, and the toolchain the .cwasm's own header names (which the
 * runtime checks is its own); the .cwasm must hash to the statement's
 * digest. Anything else: the caller runs the interpreter, and says why.
 * Every start checks the files on disk again, as for modules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "clients/wasm/cwasm.h"
#include "common/b64.h"
#include "common/file.h"
#include "common/log.h"
#include "common/target.h"
#include "depot/depot.h"

#define CWASM_MAX (64ull << 20)
#define STATEMENT_MAX 65536

static EVP_PKEY *depot_key;

const char *compiled_target(void)
{
	return target_host();
}

/* The pinned depot key; fetched and pinned when absent and fetch is set. */
static EVP_PKEY *key_get(const struct agent_config *c, bool fetch, const char **why)
{
	char path[4200], id[DEPOT_KEY_ID_LEN + 1], url[2048];
	size_t len;
	if (depot_key)
		return depot_key;
	snprintf(path, sizeof(path), "%s/depot.pub", c->state_dir);
	char *pem = file_read(path, 65536, &len);
	if (pem) {
		depot_key = depot_key_parse(pem, len, id);
		free(pem);
		*why = "the pinned depot key (state_dir/depot.pub) is not an Ed25519 key";
		return depot_key;
	}
	*why = "the depot key is not pinned yet and Orchard is unreachable";
	if (!fetch)
		return NULL;
	struct http_reply r;
	snprintf(url, sizeof(url), "%s/depot/key", c->url);
	if (http_json(c, "GET", url, NULL, NULL, 15, &r) < 0)
		return NULL;
	json_t *j = r.status == 200 ? json_loads(r.body ? r.body : "", 0, NULL) : NULL;
	const char *kpem = json_string_value(json_object_get(j, "publicKey"));
	const char *kid = json_string_value(json_object_get(j, "keyId"));
	EVP_PKEY *k = kpem ? depot_key_parse(kpem, strlen(kpem), id) : NULL;
	*why = "Orchard's depot key is not an Ed25519 key";
	if (k && (!kid || strcmp(kid, id) != 0)) {
		*why = "Orchard's depot key does not match its key id";
		EVP_PKEY_free(k);
		k = NULL;
	}
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = k ? fopen(tmp, "w") : NULL;
	if (f) {
		int ok = fputs(kpem, f) >= 0;
		ok = fclose(f) == 0 && ok;
		if (ok && rename(tmp, path) == 0) {
			log_kv(LOG_INFO, "pinned the depot key", "keyId", id, NULL);
			depot_key = k;
			k = NULL;
		} else {
			unlink(tmp);
			*why = "cannot pin the depot key in state_dir";
		}
	}
	EVP_PKEY_free(k);
	json_decref(j);
	http_reply_free(&r);
	return depot_key;
}

/* Checks a stored statement ({"statement", "signature"}) against the
 * depot key, the manifest's module and this target; the .cwasm digest it
 * names into cw_hex. 0, or -1 with *why. */
static int statement_check(EVP_PKEY *key, const json_t *st, const struct depot_manifest *m,
			   char cw_hex[65], json_t **doc, const char **why)
{
	const char *text = json_string_value(json_object_get(st, "statement"));
	const char *sig64 = json_string_value(json_object_get(st, "signature"));
	size_t slen = 0;
	uint8_t *sig = sig64 ? b64_decode(sig64, strlen(sig64), 0, &slen) : NULL;
	int ok = text && sig && slen == DEPOT_SIG_LEN &&
		 depot_verify(key, (const uint8_t *)text, strlen(text), sig, slen) == 0;
	free(sig);
	*doc = NULL;
	*why = "the compiled form's signature does not verify with the pinned depot key";
	if (!ok)
		return -1;
	json_t *d = json_loads(text, 0, NULL);
	const char *type = json_string_value(json_object_get(d, "type"));
	const char *mod = json_string_value(json_object_get(d, "module"));
	const char *tgt = json_string_value(json_object_get(d, "target"));
	const char *cw = json_string_value(json_object_get(d, "cwasm"));
	*why = "the compiled form's statement is not orchard-compiled/1";
	if (!type || strcmp(type, "orchard-compiled/1") != 0 || !cw || strncmp(cw, "sha256:", 7) ||
	    strlen(cw) != 71)
		goto fail;
	*why = "the compiled form is another module's";
	if (!mod || strncmp(mod, "sha256:", 7) != 0 || strcmp(mod + 7, m->module_hex) != 0)
		goto fail;
	*why = "the compiled form is for another target";
	if (!tgt || strcmp(tgt, compiled_target()) != 0)
		goto fail;
	memcpy(cw_hex, cw + 7, 65);
	*doc = d;
	return 0;
fail:
	json_decref(d);
	return -1;
}

/* Checks the .cwasm at path: its digest is the statement's, its header
 * (module, target, toolchain: the runtime's own) is what the statement
 * binds. 0, or -1 with *why. */
static int cwasm_check(const char *path, const json_t *doc, const char *cw_hex,
		       const struct depot_manifest *m, const char **why)
{
	size_t len = 0;
	uint8_t *bytes = (uint8_t *)file_read(path, CWASM_MAX, &len);
	char hex[65], err[256], compiler[1024];
	cwasm_info info;
	int rc = -1;
	*why = "the compiled form is missing";
	if (!bytes)
		return -1;
	*why = "the compiled form's bytes are not the ones the depot signed";
	if (cwasm_sha256_hex(bytes, len, hex) < 0 || strcmp(hex, cw_hex) != 0)
		goto out;
	*why = "the compiled form was made by a toolchain this runtime does not run";
	if (cwasm_open(bytes, len, &info, err, sizeof(err)) < 0)
		goto out;
	snprintf(compiler, sizeof(compiler), "wabt %s\nabi %u\ncc %s\nflags %s", info.wabt,
		 info.abi, info.cc, info.flags);
	const char *sc = json_string_value(json_object_get(doc, "compiler"));
	*why = "the compiled form's header is not what the statement binds";
	if (!sc || strcmp(sc, compiler) != 0 || strcmp(info.module_sha256, m->module_hex) != 0 ||
	    strcmp(info.target, compiled_target()) != 0)
		goto out;
	rc = 0;
out:
	free(bytes);
	return rc;
}

/* Verifies what dir holds (compiled.json, compiled.cwasm): 0; -1 refused;
 * -2 nothing there. */
static int verify_on_disk(EVP_PKEY *key, const char *dir, const struct depot_manifest *m,
			  const char **why)
{
	char path[4200], cw_hex[65];
	snprintf(path, sizeof(path), "%s/compiled.json", dir);
	json_t *st = json_load_file(path, 0, NULL), *doc = NULL;
	*why = "no compiled form downloaded";
	if (!st)
		return -2;
	int rc = statement_check(key, st, m, cw_hex, &doc, why);
	snprintf(path, sizeof(path), "%s/compiled.cwasm", dir);
	if (rc == 0)
		rc = cwasm_check(path, doc, cw_hex, m, why);
	json_decref(doc);
	json_decref(st);
	return rc;
}

int compiled_get(const struct agent_config *c, const struct agent_identity *id, const char *ref,
		 const char *dir, const struct depot_manifest *m, bool fetch, char out[4200],
		 const char **why)
{
	char path[4200], part[4200], url[4096], cw_hex[65];
	EVP_PKEY *key = key_get(c, fetch, why);
	if (!key)
		return -2;
	snprintf(out, 4200, "%s/compiled.cwasm", dir);
	int rc = verify_on_disk(key, dir, m, why);
	if (rc == 0 || !fetch)
		return rc;
	/* Fetch the statement, check it before a byte of native code comes. */
	char pub[DEPOT_NAME_MAX + 1], name[DEPOT_NAME_MAX + 1], ver[DEPOT_NAME_MAX + 1];
	if (depot_ref_parse(ref, pub, name, ver) < 0)
		return -1;
	char *sas = device_auth(c, id); /* symmetric key or TPM */
	snprintf(url, sizeof(url), "%s/depot/%s/pkg/%s/%s/compiled/%s", c->url, pub, name, ver,
		 compiled_target());
	size_t ul = strlen(url);
	snprintf(url + ul, sizeof(url) - ul, "/statement");
	struct http_reply r = {0};
	json_t *st = NULL, *doc = NULL;
	rc = -2; /* worth another try later */
	*why = "Orchard unreachable for the compiled form";
	if (!sas || http_json(c, "GET", url, sas, NULL, 30, &r) < 0)
		goto out;
	*why = r.status == 404 ? "no compiled form for this target (yet)"
			       : "the depot refused the compiled form";
	if (r.status != 200)
		goto out;
	rc = -1;
	json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
	st = json_pack("{s:O?, s:O?}", "statement", json_object_get(j, "statement"), "signature",
		       json_object_get(j, "signature"));
	json_decref(j);
	if (!st || statement_check(key, st, m, cw_hex, &doc, why) < 0)
		goto out;
	snprintf(part, sizeof(part), "%s/compiled.part", dir);
	url[ul] = '\0';
	long s = http_download(c, url, sas, part, CWASM_MAX);
	*why = s == -2 ? "cannot store the compiled form (disk full?)"
		       : "the compiled form's download failed";
	if (s != 200 && s != 206 && s != 416) {
		rc = -2;
		goto out;
	}
	if (cwasm_check(part, doc, cw_hex, m, why) < 0) {
		unlink(part); /* fetched whole again next time */
		goto out;
	}
	snprintf(path, sizeof(path), "%s/compiled.json", dir);
	*why = "cannot store the compiled form (disk full?)";
	if (json_dump_file(st, path, JSON_COMPACT) < 0 || rename(part, out) < 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	json_decref(st);
	http_reply_free(&r);
	free(sas);
	return rc;
}

void compiled_cleanup(void)
{
	EVP_PKEY_free(depot_key);
	depot_key = NULL;
}
