/* The audit trail: every mutating operator request is recorded with who,
 * what (the route and its decoded parameters) and the outcome. */
#ifndef ORCHARD_AUDIT_H
#define ORCHARD_AUDIT_H

struct server;
struct request;
struct store_audit_new;

/* Fills *e from req as answered with status. *params_json receives the
 * route's captures as a JSON object (malloc'd, caller frees; NULL when out
 * of memory) that e points to. */
void audit_entry_from_request(struct request *req, unsigned status, struct store_audit_new *e,
			      char **params_json);

/* Writes req's audit row after its response is queued, unless the handler
 * wrote it in its own transaction (req->audited). */
void audit_record(struct server *srv, struct request *req);

#endif
