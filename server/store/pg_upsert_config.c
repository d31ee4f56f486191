/* Creates or replaces a fleet configuration and, in the same statement,
 * announces its ID on EVENTS_TWIN_CONFIGURATION (delivered at commit). */
#include <stdio.h>

#include "server/store/configs.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_upsert_config(struct store_conn *c, const struct store_config *cfg)
{
	static struct store_stmt st = {
		"upsert_config",
		"WITH u AS (INSERT INTO twin_configurations (id, etag, priority, target_condition,"
		" device_content, labels, metric_queries)"
		" VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb)"
		" ON CONFLICT (id) DO UPDATE SET etag = EXCLUDED.etag, priority = EXCLUDED.priority,"
		" target_condition = EXCLUDED.target_condition,"
		" device_content = EXCLUDED.device_content, labels = EXCLUDED.labels,"
		" metric_queries = EXCLUDED.metric_queries, updated_at = now() RETURNING id)"
		" SELECT pg_notify('" EVENTS_TWIN_CONFIGURATION "', id) FROM u",
		0};
	char prio[24];
	const char *p[] = {
		cfg->id,     cfg->etag,		 prio, cfg->target_condition, cfg->device_content,
		cfg->labels, cfg->metric_queries};

	snprintf(prio, sizeof prio, "%lld", cfg->priority);
	return store_exec_void(c, &st, 7, p);
}
