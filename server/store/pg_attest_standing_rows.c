/* The standing row of device-attest-01's AK certificate queries. */
#include "server/store/pg_attest_standing_rows.h"

#include <stdlib.h>
#include <string.h>

enum store_qs store_attest_standing_row(PGresult *res, enum store_qs qs, bool *known,
					long long *revoked, bool *enabled, char **policy_name,
					char **policy)
{
	*known = qs == STORE_ONE;
	*revoked = 0;
	*enabled = false;
	*policy_name = *policy = NULL;
	if (qs == STORE_ONE) {
		int ok = 1;
		*revoked = store_value_ll(res, 0, 0);
		*enabled = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		*policy_name = store_value_dup(res, 0, 2, &ok);
		*policy = store_value_dup(res, 0, 3, &ok);
		if (!ok) {
			free(*policy_name);
			free(*policy);
			*policy_name = *policy = NULL;
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
