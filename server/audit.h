/* The audit trail: every mutating operator request is recorded with who,
 * what and the outcome, after its response is queued. */
#ifndef ORCHARD_AUDIT_H
#define ORCHARD_AUDIT_H

struct server;
struct request;

void audit_record(struct server *srv, struct request *req);

#endif
