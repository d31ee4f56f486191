/* The audit trail: every mutating operator request is recorded with who,
 * what (the route and its decoded parameters) and the outcome. */
#ifndef ORCHARD_AUDIT_H
#define ORCHARD_AUDIT_H
#include <jansson.h>
#include <stdbool.h>

#include "server/store/store.h"

struct server;
struct request;
struct store;
struct store_audit_new;

/* Fills *e from req as answered with status. *params_json receives the
 * route's captures as a JSON object (malloc'd, caller frees; NULL when out
 * of memory) that e points to. */
void audit_entry_from_request(struct request *req, unsigned status, struct store_audit_new *e,
			      char **params_json);

/* Writes req's audit row after its response is queued, unless the handler
 * wrote it in its own transaction (req->audited). */
void audit_record(struct server *srv, struct request *req);

/* Up to limit entries before cursor (0: the newest), newest first, or with
 * after, the entries after cursor, oldest first, rendered for the operator
 * API as a new JSON array in *items (NULL on failure). */
enum store_qs audit_fetch_json(struct store *s, long long cursor, bool after, int limit,
			       json_t **items);

#endif
