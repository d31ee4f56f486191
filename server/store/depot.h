/* Queries of the depot: publishers and their key history, packages and
 * their content-addressed modules. Typed rows; the handlers
 * (server/h_depot_*.c) render them. */
#ifndef ORCHARD_STORE_DEPOT_H
#define ORCHARD_STORE_DEPOT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store/store.h"

/* A publisher: its current key and, as JSON text, every key it has had
 * ([{"keyId", "addedAt", "retiredAt"}], oldest first). Strings owned. */
struct store_depot_publisher {
	char *name, *public_key, *key_id, *keys_json;
	long long created_at, updated_at;
};
void store_depot_publisher_free(struct store_depot_publisher *p);

/* Creates publisher name with key (PEM) key_id, or makes key its current
 * key (the older ones stay, retired, for the packages they signed).
 * *created tells which. */
enum store_qs store_upsert_depot_publisher(struct store_conn *c, const char *name, const char *pem,
					   const char *key_id, bool *created);
/* Publisher name into *out; STORE_NONE when there is none. */
enum store_qs store_select_depot_publisher(struct store_conn *c, const char *name,
					   struct store_depot_publisher *out);
/* Every publisher, by name: *out (n rows) the caller frees with
 * store_depot_publisher_free on each and free(). */
enum store_qs store_select_depot_publishers(struct store_conn *c,
					    struct store_depot_publisher **out, size_t *n);

/* A package's record (not the module's bytes). Strings owned. */
struct store_depot_package {
	char *publisher, *name, *version;
	char *manifest;	     /* canonical manifest text, as signed */
	char *signature;     /* base64 of the 64-byte Ed25519 signature */
	char *key_id;	     /* the key that signed it */
	char *module_sha256; /* lower-case hex */
	char *published_by;  /* token jti, may be NULL */
	long long size, published_at, yanked_at;
	bool yanked;
};
void store_depot_package_free(struct store_depot_package *p);

/* Records a package (p's strings but signature, which is sig_hex here:
 * 128 hex digits) signed by key_id and announces it on EVENTS_DEPOT;
 * STORE_CONFLICT when that version exists. The module row must follow in
 * the same transaction (the foreign key is deferred). */
enum store_qs store_insert_depot_package(struct store_conn *c, const struct store_depot_package *p,
					 const char *sig_hex);
/* Stores len module bytes under their hex SHA-256 unless already there
 * (content-addressed: STORE_NONE then, STORE_ONE when written). */
enum store_qs store_insert_depot_module(struct store_conn *c, const char *sha256_hex,
					const uint8_t *data, size_t len);
/* Package publisher/name/version into *out; STORE_NONE when none. */
enum store_qs store_select_depot_package(struct store_conn *c, const char *publisher,
					 const char *name, const char *version,
					 struct store_depot_package *out);
/* Packages, newest version first within a name; publisher and name filter
 * when not NULL; at most limit rows into *out (n rows, caller frees). */
enum store_qs store_select_depot_packages(struct store_conn *c, const char *publisher,
					  const char *name, long limit,
					  struct store_depot_package **out, size_t *n);
/* Sets the yanked flag of a package (and yanked_at) and announces it;
 * STORE_NONE when there is no such package. */
enum store_qs store_update_depot_package_yanked(struct store_conn *c, const char *publisher,
						const char *name, const char *version, bool yanked);
/* len bytes of module sha256_hex from offset (0-based) into *data
 * (malloc'd, caller frees); STORE_NONE when no such module. */
enum store_qs store_select_depot_module(struct store_conn *c, const char *sha256_hex,
					uint64_t offset, uint64_t len, uint8_t **data, size_t *got);

#endif
