/* The audit trail: every mutating operator request is recorded with who,
 * what (the route and its decoded parameters) and the outcome. */
#ifndef ORCHARD_AUDIT_H
#define ORCHARD_AUDIT_H

#include <jansson.h>

struct server;
struct request;
struct store_audit_new;
struct store_audit_entry;
struct store_audit_page;

/* Fills *e from req as answered with status. *params_json receives the
 * route's captures as a JSON object (malloc'd, caller frees; NULL when out
 * of memory) that e points to. */
void audit_entry_from_request(struct request *req, unsigned status, struct store_audit_new *e,
			      char **params_json);

/* Writes req's audit row after its response is queued, unless the handler
 * wrote it in its own transaction (req->audited). */
void audit_record(struct server *srv, struct request *req);

/* One audit row as the operator API shows it (a new object, NULL when out
 * of memory); params stay a JSON object. */
json_t *audit_entry_json(const struct store_audit_entry *e);

/* The entries of page as a new JSON array, or NULL when out of memory. */
json_t *audit_page_json(const struct store_audit_page *page);

/* Up to limit entries newer than after, oldest first, on a pooled
 * connection: what a watcher of the trail has not seen yet. */
int audit_select_after(struct server *srv, long long after, int limit,
		       struct store_audit_page *page);

#endif
