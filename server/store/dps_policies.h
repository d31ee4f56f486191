/* Queries on the DPS service API's shared access policies (the service
 * SAS), as typed rows. */
#ifndef ORCHARD_STORE_DPS_POLICIES_H
#define ORCHARD_STORE_DPS_POLICIES_H
#include <stdbool.h>

#include "server/store/store.h"

/* One policy. Rows filled by a query own their strings (keys wiped on
 * free): store_dps_policy_free(). */
struct store_dps_policy {
	char *name;
	char *rights;			   /* Azure's names, comma-separated */
	char *primary_key, *secondary_key; /* base64 (secret) */
	long long created_at, updated_at;
};
void store_dps_policy_free(struct store_dps_policy *p);

struct store_dps_policy_list {
	struct store_dps_policy *items;
	int n;
};
void store_dps_policy_list_free(struct store_dps_policy_list *l);

/* Fetches one policy into *out (zeroed first). */
enum store_qs store_select_dps_policy(struct store_conn *c, const char *name,
				      struct store_dps_policy *out);

/* Every policy, in name order. */
enum store_qs store_select_dps_policies(struct store_conn *c, struct store_dps_policy_list *out);

/* Creates p (with its keys) or, when it exists, sets its rights only
 * (keys kept). *created tells which; *out receives the row as stored. */
enum store_qs store_upsert_dps_policy(struct store_conn *c, const struct store_dps_policy *p,
				      bool *created, struct store_dps_policy *out);

/* Replaces the keys of policy name that are not NULL. STORE_NONE when
 * there is no such policy; *out receives the row as stored. */
enum store_qs store_update_dps_policy_keys(struct store_conn *c, const char *name,
					   const char *primary_key, const char *secondary_key,
					   struct store_dps_policy *out);

/* Deletes policy name: STORE_NONE when there was none. */
enum store_qs store_delete_dps_policy(struct store_conn *c, const char *name);

#endif
