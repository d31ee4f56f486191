/* Queries on fleet configurations and on which configuration each twin
 * got its content from, as typed rows. Each takes a handle, so the change
 * of a configuration and its application to twins share one transaction. */
#ifndef ORCHARD_STORE_CONFIGS_H
#define ORCHARD_STORE_CONFIGS_H
#include <stdbool.h>
#include <stddef.h>

#include "server/store/store.h"
#include "server/store/twins.h"
#include "server/twinq.h"

/* One configuration. JSON columns are text. Rows filled by a query own
 * their strings: store_config_free(). */
struct store_config {
	char *id;
	char *etag;
	long long priority;
	char *target_condition;
	char *device_content; /* {"properties.desired.a": value, ...} */
	char *labels;
	char *metric_queries;		  /* {"name": "SELECT deviceId FROM devices WHERE ..."} */
	long long created_at, updated_at; /* seconds since the epoch */
};
void store_config_free(struct store_config *c);

/* Takes the transaction-long lock every configuration change holds
 * (exclusive) and every re-evaluation of one twin (shared), so a change
 * never interleaves with another or with a twin's re-evaluation. */
enum store_qs store_lock_configs(struct store_conn *c, bool shared);

/* Reads one configuration into *out (zeroed first). */
enum store_qs store_select_config(struct store_conn *c, const char *id, struct store_config *out);

/* Reads every configuration, highest priority first (then the newest,
 * then by ID): a new array in *out of *n rows, each to free, then free(). */
enum store_qs store_select_configs(struct store_conn *c, struct store_config **out, size_t *n);

/* Creates or replaces cfg (created_at kept on replace) and announces its ID
 * on EVENTS_TWIN_CONFIGURATION at commit. */
enum store_qs store_upsert_config(struct store_conn *c, const struct store_config *cfg);

/* Deletes the configuration (its applied rows go with it) and announces it. */
enum store_qs store_delete_config(struct store_conn *c, const char *id);

/* One twin to look at: the configuration that should win (the index of
 * the first condition it matches, -1 when none) and the one applied. */
struct store_config_winner {
	char *device_id;
	int winner;
	char *applied_id, *applied_etag; /* NULL when none applied */
};
void store_config_winners_free(struct store_config_winner *w, size_t n);

/* For each twin that some condition matches or that has an applied
 * configuration: the winner among conds (compiled with
 * twinq_compile_condition_from, bases counting up from 0 in order, so
 * their parameters never overlap), in device ID order. Only device_id's
 * when it is not NULL; else those after `after` (NULL: from the first), at
 * most limit of them. */
enum store_qs store_select_config_winners(struct store_conn *c, const struct twinq *conds,
					  size_t nconds, const char *device_id, const char *after,
					  long long limit, struct store_config_winner **out,
					  size_t *n);

/* For the twin device_id: whether each of conds (compiled as for
 * store_select_config_winners()) matches it, into targeted[0..nconds), and
 * the configuration it carries (*applied_id, NULL when none; free()).
 * STORE_NONE when there is no such twin. */
enum store_qs store_select_config_targets(struct store_conn *c, const struct twinq *conds,
					  size_t nconds, const char *device_id, bool *targeted,
					  char **applied_id);

/* Records, for each {"device_id", "id", "etag"} of the JSON array
 * rows_json, that the twin carries configuration id at etag. */
enum store_qs store_upsert_config_applied(struct store_conn *c, const char *rows_json);

/* Inside a transaction: reads FOR UPDATE the twins whose IDs the JSON
 * array ids_json names, in device ID order: a new array in *out of *n
 * rows, each to store_twin_free(), then free(). */
enum store_qs store_lock_twins(struct store_conn *c, const char *ids_json, struct store_twin **out,
			       size_t *n);

/* Writes, for each {"device_id", "etag", "version", "desired",
 * "configuration", "patch"} of the JSON array rows_json, the twin's etag,
 * version and desired object, records the change in its history (by that
 * configuration, with that patch) and announces each on EVENTS_TWIN at
 * commit. */
enum store_qs store_update_twins_desired(struct store_conn *c, const char *rows_json);

/* Forgets what configuration twin device_id carries. */
enum store_qs store_delete_config_applied(struct store_conn *c, const char *device_id);

/* How many twins cond (compiled from $1) matches. */
enum store_qs store_count_twins_where(struct store_conn *c, const struct twinq *cond,
				      long long *count);

/* How many twins carry configuration id. */
enum store_qs store_count_config_applied(struct store_conn *c, const char *id, long long *count);

#endif
