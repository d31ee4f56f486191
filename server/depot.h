/* The depot's server-side helpers shared by its handlers: rendering rows
 * as JSON, and the check the twin's desired state will call. */
#ifndef ORCHARD_SERVER_DEPOT_H
#define ORCHARD_SERVER_DEPOT_H
#include <jansson.h>

#include "common/errors_gen.h"
#include "server/store/depot.h"

/* A package row as the operator API shows it (manifest as an object), or
 * NULL when out of memory. */
json_t *depot_package_json(const struct store_depot_package *p);
/* A publisher row: name, publicKey, keyId, keys (history), times. */
json_t *depot_publisher_json(const struct store_depot_publisher *p);

/* For the twin side (not wired yet): whether desired state may name ref,
 * "{publisher}/pkg/{name}/{version}". 0 when the package exists and is not
 * yanked; else -1 with *err ERR_DEPOT_BAD_NAME, ERR_DEPOT_PACKAGE_NOT_FOUND,
 * ERR_DEPOT_YANKED or ERR_DB_UNAVAILABLE. Runs on c, inside the caller's
 * transaction, so the twin update that names it commits with what it saw.
 * A device already running a yanked version keeps downloading it: the
 * download routes never call this. */
int depot_desired_check(struct store_conn *c, const char *ref, enum err_code *err);

struct server;

/* Called once a package is committed (POST /depot/packages). The seam for
 * the depot's ahead-of-time compilation (the AOT issue): compile the module
 * for the targets devices report, sign each compiled form with the depot's
 * key binding module digest, target and compiler, and store it beside the
 * package. Compiled forms: not built yet, so this does nothing; other
 * orchardd processes learn of the package from EVENTS_DEPOT. */
void depot_after_publish(struct server *srv, const struct store_depot_package *p);

#endif
