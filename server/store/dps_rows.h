/* Private to server/store/: the column lists and row parsers the DPS query
 * files share, so every query returns rows in one shape. */
#ifndef ORCHARD_STORE_DPS_ROWS_H
#define ORCHARD_STORE_DPS_ROWS_H
#include "server/store/dps.h"
#include "server/store/store_pg.h"

#define DPS_ENROLLMENT_COLS                                                                          \
	"kind, id, attestation_type, primary_key, secondary_key, provisioning_status,"               \
	" device_id, iot_hub_host_name, initial_twin::text, capabilities::text, etag, " STORE_EPOCH( \
		"created_at") ", " STORE_EPOCH("updated_at") ", attestation_params::text,"           \
							     " allocation::text"

#define DPS_REGISTRATION_COLS                                                                        \
	"registration_id, device_id, enrollment_kind, enrollment_id, status, substatus,"             \
	" assigned_hub, operation_id, etag, payload::text, error_code, error_message, " STORE_EPOCH( \
		"created_at") ", " STORE_EPOCH("updated_at") ", tpm_authentication_key, device_key," \
							     " issued_certificate_chain::text"

/* Fill *out from row of res (columns as above); 0, or -1 out of memory
 * with *out freed. */
int dps_enrollment_from_row(const PGresult *res, int row, struct store_dps_enrollment *out);
/* Fills *items (calloc'd, size bytes a row) and *n from the qs rows of res
 * with from_row; returns qs, or STORE_HARD out of memory with all freed
 * (free_row on each row filled). */
enum store_qs dps_rows_from(const PGresult *res, enum store_qs qs, size_t size, void **items,
			    int *n, int (*from_row)(const PGresult *res, int row, void *out),
			    void (*free_row)(void *row));

/* Fills *out from the qs rows of res (a query's result); returns qs, or
 * STORE_HARD out of memory with *out freed. */
enum store_qs dps_enrollment_list_from(const PGresult *res, enum store_qs qs,
				       struct store_dps_enrollment_list *out);
int dps_registration_from_row(const PGresult *res, int row, struct store_dps_registration *out);

#endif
