/* The depot's server-side helpers shared by its handlers: rendering rows
 * as JSON, and the check the twin's desired state will call. */
#ifndef ORCHARD_SERVER_DEPOT_H
#define ORCHARD_SERVER_DEPOT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/errors_gen.h"
#include "server/store/depot.h"

/* A package row as the operator API shows it (manifest as an object), or
 * NULL when out of memory. */
json_t *depot_package_json(const struct store_depot_package *p);
/* A publisher row: name, publicKey, keyId, keys (history), times. */
json_t *depot_publisher_json(const struct store_depot_publisher *p);

/* For the twin side (h_twins_update.c, h_configurations.c): whether desired state may name ref,
 * "{publisher}/pkg/{name}/{version}". 0 when the package exists and is not
 * yanked; else -1 with *err ERR_DEPOT_BAD_NAME, ERR_DEPOT_PACKAGE_NOT_FOUND,
 * ERR_DEPOT_YANKED or ERR_DB_UNAVAILABLE. Runs on c, inside the caller's
 * transaction, so the twin update that names it commits with what it saw.
 * A device already running a yanked version keeps downloading it: the
 * download routes never call this. */
int depot_desired_check(struct store_conn *c, const char *ref, enum err_code *err);

struct server;

#define DEPOT_TARGET_MAX 64 /* a compile target triple, bytes at most */

/* The depot's process state (server/depot_compile.c): loads or makes the
 * depot key (DATA_DIR/keys/depot-ed25519.pem, 0600) and starts the
 * compile worker; 0, or -1 (logged). depot_stop joins and frees. */
int depot_start(struct server *srv);
void depot_stop(struct server *srv);
/* The depot key's public half (PEM) and its id (hex SHA-256 of the DER). */
const char *depot_public_key(const struct server *srv, const char **key_id);
/* The targets (server/depot_targets.c) compiled forms are made for (none
 * when compiling is off). */
size_t depot_targets(const struct server *srv, const char **out, size_t max);
/* Whether s is a target name: 1-64 of [A-Za-z0-9._-]. */
bool depot_target_ok(const char *s);

/* Called once a package is committed (POST /depot/packages): queues the
 * compilation of its module for each target (docs/depot.md, "Compiled
 * forms"); a module already compiled for a target is not compiled again. */
void depot_after_publish(struct server *srv, const struct store_depot_package *p);
/* After a device's reported patch is committed: when it names a new
 * properties.reported.agent.target the compiler can produce, the depot
 * compiles the published modules for it too (on its worker); a target of
 * a bad form or that the compiler cannot make is ignored, logged once (the
 * latter is looked for again at the next report). */
void depot_twin_reported(struct server *srv, const json_t *patch);
/* At start: queues again what has no finished compiled form (never
 * compiled, or left compiling by a process that stopped). */
void depot_requeue(struct server *srv);

#endif
