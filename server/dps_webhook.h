/* DPS custom allocation: the enrollment's webhook (Azure's request and
 * response format), called with libcurl as a background job; its outcome
 * ends the assigning registration in one transaction. */
#ifndef ORCHARD_DPS_WEBHOOK_H
#define ORCHARD_DPS_WEBHOOK_H
#include <jansson.h>
#include <stdbool.h>

struct server;
struct store_dps_enrollment;
struct dps_alloc;

struct dps_webhook;

/* What the webhook is asked and what may be done with its answer:
 * enrollment e (its allocation a), the device's registration and operation
 * IDs, its device ID, its payload (may be NULL), the hubs it may be assigned
 * to (candidates, borrowed), and its current hub when it has one (then
 * reprovisioning follows a->migrate_data). NULL when out of memory. */
struct dps_webhook *dps_webhook_new(const struct store_dps_enrollment *e, const struct dps_alloc *a,
				    const char *registration_id, const char *operation_id,
				    const char *device_id, json_t *payload, json_t *candidates,
				    const char *current_hub);
void dps_webhook_free(struct dps_webhook *w);

/* Queues the call on srv's jobs (taking w): the registration stays
 * assigning until the job ends it, assigned or failed. When the queue is
 * full the registration is failed at once. */
void dps_webhook_submit(struct server *srv, struct dps_webhook *w);

#endif
