/* Private to server/store/: the column list and row parser the policy
 * queries share. */
#ifndef ORCHARD_STORE_DPS_POLICY_ROWS_H
#define ORCHARD_STORE_DPS_POLICY_ROWS_H
#include "server/store/dps_policies.h"
#include "server/store/store_pg.h"

#define DPS_POLICY_COLS                                                                            \
	"name, rights, primary_key, secondary_key, " STORE_EPOCH("created_at") ", " STORE_EPOCH(   \
		"updated_at")

/* Fills *out from row of res: 0, or -1 out of memory (*out freed). */
int dps_policy_from_row(const PGresult *res, int row, struct store_dps_policy *out);
/* With qs == STORE_ONE, fills *out from the first row; returns qs, or
 * STORE_HARD out of memory. */
enum store_qs dps_policy_one_from(const PGresult *res, enum store_qs qs,
				  struct store_dps_policy *out);

#endif
