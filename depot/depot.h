/* The depot's pure parts: the package manifest (parse, validate, canonical
 * form), Ed25519 publisher keys and signatures, and the .opkg container.
 * No SQL, no libmicrohttpd: orchardd, orchard-pkg and the agent share it.
 * docs/depot.md describes the formats. */
#ifndef ORCHARD_DEPOT_H
#define ORCHARD_DEPOT_H
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DEPOT_NAME_MAX 64	    /* publisher, name, version: bytes at most */
#define DEPOT_SIG_LEN 64	    /* an Ed25519 signature */
#define DEPOT_MANIFEST_MAX 65536    /* canonical manifest bytes at most */
#define DEPOT_OPKG_OVERHEAD 65600   /* container bytes besides the module, at most */
#define DEPOT_MEMORY_MIB_DEFAULT 64 /* capabilities.memoryMiB when absent */
#define DEPOT_KEY_ID_LEN 64	    /* hex SHA-256 of the key's SubjectPublicKeyInfo */

/* A validated manifest. doc is the document itself (owned), which the
 * canonical form and the signature cover; the fields are copies. */
struct depot_manifest {
	json_t *doc;
	char publisher[DEPOT_NAME_MAX + 1];
	char name[DEPOT_NAME_MAX + 1];
	char version[DEPOT_NAME_MAX + 1];
	bool has_module;
	uint8_t module[32];    /* SHA-256 the manifest pins */
	char module_hex[65];   /* the same, lower-case hex */
	long long memory_mib;  /* DEPOT_MEMORY_MIB_DEFAULT when absent */
	long long cpu_seconds; /* 0: no CPU limit */
	bool dir;	       /* a private data folder */
};

/* Whether s is a publisher or package name: 1-64 of [a-z0-9._-], starting
 * with a letter or digit. "packages" and "publishers" are refused as
 * publishers (they are the operator API's path segments). */
bool depot_name_ok(const char *s);
bool depot_publisher_ok(const char *s);
/* A version: 1-64 of [A-Za-z0-9.+_-], starting with a letter or digit. */
bool depot_version_ok(const char *s);

/* Validates doc (borrowed; a reference is taken on success) as a manifest:
 * exactly the fields docs/depot.md lists, with their types and ranges.
 * need_module: 1 the module digest must be there, 0 it must not (orchard-pkg
 * build fills it), -1 either. Returns 0 and fills *m (depot_manifest_free
 * it), or -1 with *why a static reason. */
int depot_manifest_check(json_t *doc, int need_module, struct depot_manifest *m, const char **why);
/* As depot_manifest_check on JSON text (len bytes, no NUL needed). */
int depot_manifest_parse(const char *text, size_t len, int need_module, struct depot_manifest *m,
			 const char **why);
/* Frees what m holds and clears it; NULL-safe. */
void depot_manifest_free(struct depot_manifest *m);

/* The canonical form of a valid manifest: RFC 8785 (JCS), which for the
 * manifest's subset (integers only, no control characters, ASCII keys) is
 * JSON with keys sorted bytewise, no whitespace, UTF-8 unescaped. Returns
 * a malloc'd string (caller frees) with *len, or NULL when out of memory. */
char *depot_canonical(const json_t *doc, size_t *len);

/* Reads a PEM Ed25519 public key (SubjectPublicKeyInfo). Returns the key
 * (caller EVP_PKEY_free) and its id (hex SHA-256 of the DER, NUL-ended),
 * or NULL when it is not one. */
EVP_PKEY *depot_key_parse(const char *pem, size_t len, char id[DEPOT_KEY_ID_LEN + 1]);
/* The key's public half as PEM (malloc'd, caller frees), or NULL. */
char *depot_key_pem(EVP_PKEY *key);
/* 0 when sig is key's Ed25519 signature over msg, else -1. */
int depot_verify(EVP_PKEY *key, const uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen);
/* Signs msg with an Ed25519 private key into sig (DEPOT_SIG_LEN bytes): 0 or -1. */
int depot_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[DEPOT_SIG_LEN]);

/* The .opkg container, big-endian lengths:
 *   "OPKG" 0x00 0x00 0x00 0x01          magic and format version 1
 *   u32 n, n bytes                       the canonical manifest
 *   u32 64, 64 bytes                     the Ed25519 signature over it
 *   u64 m, m bytes                       the module (app.wasm)
 * and nothing after. The reader points into the caller's buffer. */
struct depot_opkg {
	const uint8_t *manifest;
	size_t manifest_len;
	const uint8_t *sig;
	const uint8_t *module;
	size_t module_len;
};

enum depot_status {
	DEPOT_OK = 0,
	DEPOT_BAD_FORMAT,     /* not a container: magic, version, lengths, trailing bytes */
	DEPOT_TRUNCATED,      /* ends before the lengths it announces */
	DEPOT_TOO_LARGE,      /* the module is over the limit */
	DEPOT_BAD_MANIFEST,   /* not a valid manifest, or not in canonical form */
	DEPOT_DIGEST_MISMATCH /* the module's SHA-256 is not the manifest's */
};

/* Reads a container of len bytes whose module may be max_module bytes at
 * most, validates its manifest (module digest required, canonical bytes)
 * and the module's digest. The signature is not checked: that needs the
 * publisher's key, which the caller looks up by m->publisher and passes to
 * depot_verify(o->manifest, o->sig). DEPOT_OK fills *o and *m
 * (depot_manifest_free); otherwise *why says what. */
enum depot_status depot_opkg_read(const uint8_t *p, size_t len, size_t max_module,
				  struct depot_opkg *o, struct depot_manifest *m, const char **why);
/* Writes a container to f: 0, or -1 on a write error. */
int depot_opkg_write(FILE *f, const char *manifest, size_t manifest_len,
		     const uint8_t sig[DEPOT_SIG_LEN], const uint8_t *module, size_t module_len);

/* A package reference as the twin names it, "{publisher}/pkg/{name}/{version}":
 * 0 with the three parts copied, or -1. */
int depot_ref_parse(const char *ref, char publisher[DEPOT_NAME_MAX + 1],
		    char name[DEPOT_NAME_MAX + 1], char version[DEPOT_NAME_MAX + 1]);

/* The twin's desired.app: an object with "package" (a reference as
 * above, required) and optional "grants" (the shape of a manifest's
 * capabilities), nothing else. 0 with *ref pointing into app, or -1 with
 * *why a static reason. */
int depot_app_check(const json_t *app, const char **ref, const char **why);
/* Whether a desired-state patch writes a depot app, so depot_app_check
 * applies to the merged result: the patch's app (NULL: absent) is an object
 * naming "package" or "grants", or it changes an app that already names a
 * package (merged: desired.app after the merge). Other values of app (a
 * free-form object such as {"name": "pump"}, or null, which deletes it)
 * are left alone: twins used "app" before the depot existed. */
bool depot_app_named(const json_t *patch_app, const json_t *merged);

/* HTTP downloads (RFC 9110): one "bytes=a-b", "bytes=a-" or "bytes=-n"
 * range of a size-byte module into *start and *len (clipped to the end).
 * 0 when satisfiable; -1 for anything else (several ranges, bad syntax,
 * a start at or past the end), which the depot answers with 416. */
int depot_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len);
/* Whether an If-None-Match header (a list of entity tags, W/ allowed,
 * or "*") names etag (quoted, as sent in ETag). */
bool depot_etag_match(const char *header, const char *etag);

#endif
