/* Fleet configurations (IoT Hub automatic device management): which
 * configuration wins each twin, and writing its content into the twin's
 * desired properties. Used by the configuration handlers and by the twin
 * write path when tags change. */
#ifndef ORCHARD_CONFIGS_H
#define ORCHARD_CONFIGS_H
#include <jansson.h>
#include <stddef.h>

#include "server/store/configs.h"

/* A targetCondition as the query compiler takes it: "*" targets every
 * twin. Returns the text to compile (static or cond itself). */
const char *configs_condition_text(const char *cond);

/* content.deviceContent ({"properties.desired.a.b": value}) as a merge
 * patch of properties.desired ({"a": {"b": value}}): a new reference, or
 * NULL with why filled (a key not under properties.desired, an empty
 * segment) or when out of memory. */
json_t *configs_content_patch(const json_t *device_content, char *why, size_t whylen);

#define CONFIGS_CHUNK 500  /* twins re-evaluated a transaction */
#define CONFIGS_ID_BUF 160 /* a device ID (128) fits */

/* Inside a transaction: takes the configurations lock (shared), evaluates
 * every configuration on twin device_id and, when its winner or its
 * winner's content changed, writes the winner's content into its desired
 * properties (only the winner's paths; the rest of desired stays). A twin
 * no configuration targets any more keeps its desired properties.
 * *applied (may be NULL) is 1 when the twin was written. Returns a store
 * status; STORE_HARD also when a stored condition no longer compiles. */
enum store_qs configs_reconcile(struct store_conn *c, const char *device_id, size_t *applied);

/* The same for every twin, CONFIGS_CHUNK candidates a transaction (each
 * under the exclusive lock), in device ID order, so a change reaches a
 * large fleet without one long transaction. Blocks: run it as a job.
 * Returns 0, or -1 on a store error (what was done stays done; the next
 * change or tag update finishes it). *applied counts the twins written. */
int configs_reconcile_all(struct store *s, size_t *applied);

/* A twin's `configurations` member, as IoT Hub shows it on the operator's
 * GET: {"<id>": {"status": "applied"}} for the configuration whose content
 * the twin carries, "targeted" for every other whose condition matches it
 * now. *out NULL when there are no configurations (*nconfigs 0); an empty
 * object when none concerns this twin. STORE_NONE: no such twin. */
enum store_qs configs_twin_member(struct store_conn *c, const char *device_id, json_t **out,
				  size_t *nconfigs);

#endif
