/* DPS allocation: which hub an enrollment's device is assigned to (Azure's
 * allocationPolicy hashed, static or custom over iotHubs and the linked
 * hubs) and what registering again does (reprovisionPolicy). Pure
 * functions over JSON and configuration; no HTTP, no SQL. */
#ifndef ORCHARD_DPS_ALLOC_H
#define ORCHARD_DPS_ALLOC_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DPS_HUBS_MAX 16	     /* hubs in an enrollment's iotHubs or the linked list */
#define DPS_HUB_NAME_MAX 253 /* a DNS host name */
#define DPS_WEIGHT_MAX 1000  /* allocationWeight */

/* An enrollment's allocation, loaded from its stored JSON. */
struct dps_alloc {
	json_t *doc;		 /* owned; NULL when the enrollment has none */
	const char *policy;	 /* "hashed" (the default), "static" or "custom" */
	json_t *hubs;		 /* iotHubs (borrowed from doc), NULL: the linked hubs */
	const char *webhook_url; /* custom: customAllocationDefinition.webhookUrl */
	const char *webhook_api_version;
	bool update_hub;   /* reprovisionPolicy.updateHubAssignment (default true) */
	bool migrate_data; /* reprovisionPolicy.migrateDeviceData (default true) */
};

/* Loads allocation_json (may be NULL: the defaults) into *a. 0, or -1
 * when it cannot be read (out of memory, or not what dps_alloc_parse
 * stores). dps_alloc_free() in any case. */
int dps_alloc_load(const char *allocation_json, struct dps_alloc *a);
void dps_alloc_free(struct dps_alloc *a);

/* Checks an enrollment body's allocationPolicy, iotHubs,
 * customAllocationDefinition and reprovisionPolicy; linked is the
 * --dps-linked-hubs setting (NULL: any hub). *text (malloc'd, NULL when the
 * body gives none of them) is what to store. NULL, or why not (static, or
 * in why). */
const char *dps_alloc_parse(json_t *body, const char *linked, char **text, char *why, size_t len);

/* Whether a webhook URL is allowed by allow, the --dps-webhook-allow
 * setting: comma-separated URL prefixes (NULL: "https://"), scheme and host
 * compared case-insensitively. A prefix that ends in its host
 * ("https://hooks.example") matches that host only: the URL must go on with
 * '/', ':', '?', '#' or end, so "https://hooks.example.evil" and
 * "https://hooks.example@evil" do not match. */
bool dps_webhook_allowed(const char *url, const char *allow);

/* Adds Azure's members (allocationPolicy, iotHubs,
 * customAllocationDefinition, reprovisionPolicy) for allocation_json to
 * the enrollment object o. */
void dps_alloc_to_json(const char *allocation_json, json_t *o);

/* The hubs a device of allocation a may be assigned to, as a new JSON
 * array: iotHubs, else the linked hubs, else fallback alone. */
json_t *dps_alloc_candidates(const struct dps_alloc *a, const char *linked, const char *fallback);

/* Picks registration_id's hub (hashed: weighted rendezvous hashing over
 * the candidates, so the choice is stable and moves only the devices of a
 * hub that goes; static: the one hub) into out. 0, or -1 when there is no
 * candidate or it does not fit. */
int dps_alloc_pick(const struct dps_alloc *a, const char *linked, const char *fallback,
		   const char *registration_id, char *out, size_t len);

#endif
