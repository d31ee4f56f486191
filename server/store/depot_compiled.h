/* Queries of the depot's compiled forms (db/migrations/0025): one row per
 * module and target, compiling, ready (signed .cwasm) or failed. */
#ifndef ORCHARD_STORE_DEPOT_COMPILED_H
#define ORCHARD_STORE_DEPOT_COMPILED_H
#include <stddef.h>
#include <stdint.h>

#include "server/store/store.h"

/* A compiled form's record (not its bytes). Strings owned; NULL when unset. */
struct store_depot_compiled {
	char *module_sha256, *target, *state; /* state: compiling, ready, failed */
	char *compiler;			      /* the .cwasm header's toolchain lines */
	char *cwasm_sha256;		      /* lower-case hex */
	char *statement;		      /* the signed canonical JSON */
	char *signature;		      /* base64 of the Ed25519 signature */
	char *key_id;			      /* the depot key that signed it */
	char *error;			      /* failed: why */
	long long size, updated_at;
};
void store_depot_compiled_free(struct store_depot_compiled *r);

/* Writes r (module, target, state and the fields its state has) with
 * data (len bytes, ready only; sig_hex 128 hex digits) and announces it
 * on EVENTS_DEPOT_COMPILED. A "compiling" row never replaces a ready one:
 * STORE_NONE then (already compiled), STORE_ONE when written. */
enum store_qs store_upsert_depot_compiled(struct store_conn *c,
					  const struct store_depot_compiled *r, const char *sig_hex,
					  const uint8_t *data, size_t len);
/* The row of module and target into *out; STORE_NONE when none. */
enum store_qs store_select_depot_compiled(struct store_conn *c, const char *module_sha256,
					  const char *target, struct store_depot_compiled *out);
/* Every row of a module, by target: *out (n rows) the caller frees with
 * store_depot_compiled_free on each and free(). */
enum store_qs store_select_depot_compiled_list(struct store_conn *c, const char *module_sha256,
					       struct store_depot_compiled **out, size_t *n);
/* len bytes of a ready compiled form from offset (0-based) into *data
 * (malloc'd, caller frees); STORE_NONE when there is none ready. */
enum store_qs store_select_depot_compiled_data(struct store_conn *c, const char *module_sha256,
					       const char *target, uint64_t offset, uint64_t len,
					       uint8_t **data, size_t *got);
/* Up to limit modules of published packages whose compiled form for
 * target is missing or was left "compiling" (hex digests into *out,
 * caller frees), oldest first. */
enum store_qs store_select_depot_modules_uncompiled(struct store_conn *c, const char *target,
						    long limit, char (**out)[65], size_t *n);
/* Up to limit distinct string values of twins'
 * properties.reported.agent.target into *out (n strings): free with
 * store_twin_agent_targets_free. Unvalidated: devices write them. */
enum store_qs store_select_twin_agent_targets(struct store_conn *c, long limit, char ***out,
					      size_t *n);
void store_twin_agent_targets_free(char **t, size_t n);
#endif
