/* The .opkg container (depot.h has the layout): a bounded reader over
 * untrusted bytes, and the writer orchard-pkg uses. */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "common/cursor.h"
#include "common/ct.h"
#include "depot/depot.h"

static const uint8_t magic[8] = {'O', 'P', 'K', 'G', 0, 0, 0, 1};

static int be64(struct cursor *c, uint64_t *v)
{
	uint32_t hi, lo;
	struct cursor save = *c;

	if (cursor_be32(c, &hi) != 0 || cursor_be32(c, &lo) != 0) {
		*c = save;
		return -1;
	}
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

enum depot_status depot_opkg_read(const uint8_t *p, size_t len, size_t max_module,
				  struct depot_opkg *o, struct depot_manifest *m, const char **why)
{
	struct cursor c;
	const uint8_t *head;
	uint32_t n, siglen;
	uint64_t mlen;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	char *canon = NULL;
	size_t clen = 0;

	memset(o, 0, sizeof *o);
	memset(m, 0, sizeof *m);
	cursor_init(&c, p, len);
	if (len < sizeof magic && (len == 0 || memcmp(p, magic, len) == 0))
		return *why = "shorter than the container's header", DEPOT_TRUNCATED;
	if (cursor_bytes(&c, sizeof magic, &head) != 0 || memcmp(head, magic, sizeof magic) != 0)
		return *why = "not an .opkg file (magic or format version)", DEPOT_BAD_FORMAT;
	if (cursor_be32(&c, &n) != 0)
		return *why = "ends inside the manifest length", DEPOT_TRUNCATED;
	if (n == 0 || n > DEPOT_MANIFEST_MAX)
		return *why = "the manifest length is 0 or over 64 KiB", DEPOT_BAD_FORMAT;
	if (cursor_bytes(&c, n, &o->manifest) != 0)
		return *why = "ends inside the manifest", DEPOT_TRUNCATED;
	o->manifest_len = n;
	if (cursor_be32(&c, &siglen) != 0)
		return *why = "ends inside the signature length", DEPOT_TRUNCATED;
	if (siglen != DEPOT_SIG_LEN)
		return *why = "the signature is not 64 bytes (Ed25519)", DEPOT_BAD_FORMAT;
	if (cursor_bytes(&c, siglen, &o->sig) != 0)
		return *why = "ends inside the signature", DEPOT_TRUNCATED;
	if (be64(&c, &mlen) != 0)
		return *why = "ends inside the module length", DEPOT_TRUNCATED;
	if (mlen > max_module)
		return *why = "the module is over the depot's size limit", DEPOT_TOO_LARGE;
	if (mlen > cursor_left(&c))
		return *why = "ends inside the module", DEPOT_TRUNCATED;
	if (cursor_bytes(&c, (size_t)mlen, &o->module) != 0)
		return *why = "ends inside the module", DEPOT_TRUNCATED;
	o->module_len = (size_t)mlen;
	if (cursor_left(&c) != 0)
		return *why = "bytes after the module", DEPOT_BAD_FORMAT;
	if (depot_manifest_parse((const char *)o->manifest, n, 1, m, why) != 0)
		return DEPOT_BAD_MANIFEST;
	canon = depot_canonical(m->doc, &clen);
	if (canon == NULL || clen != n || memcmp(canon, o->manifest, n) != 0) {
		free(canon);
		depot_manifest_free(m);
		return *why = "the manifest is not in canonical form (RFC 8785)",
		       DEPOT_BAD_MANIFEST;
	}
	free(canon);
	SHA256(o->module, o->module_len, digest);
	if (!ct_equal(digest, m->module, sizeof digest)) {
		depot_manifest_free(m);
		return *why = "the module's SHA-256 is not the manifest's", DEPOT_DIGEST_MISMATCH;
	}
	return DEPOT_OK;
}

static int put_be(FILE *f, uint64_t v, int bytes)
{
	uint8_t b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return fwrite(b, 1, (size_t)bytes, f) == (size_t)bytes ? 0 : -1;
}

int depot_opkg_write(FILE *f, const char *manifest, size_t manifest_len,
		     const uint8_t sig[DEPOT_SIG_LEN], const uint8_t *module, size_t module_len)
{
	if (manifest_len == 0 || manifest_len > DEPOT_MANIFEST_MAX)
		return -1;
	if (fwrite(magic, 1, sizeof magic, f) != sizeof magic || put_be(f, manifest_len, 4) != 0 ||
	    fwrite(manifest, 1, manifest_len, f) != manifest_len ||
	    put_be(f, DEPOT_SIG_LEN, 4) != 0 || fwrite(sig, 1, DEPOT_SIG_LEN, f) != DEPOT_SIG_LEN ||
	    put_be(f, module_len, 8) != 0 ||
	    (module_len > 0 && fwrite(module, 1, module_len, f) != module_len))
		return -1;
	return 0;
}
