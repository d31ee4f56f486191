/* Authentication kinds: what a route's auth column means, when in the
 * request it runs, and what its refusal tells the client. */
#ifndef ORCHARD_AUTHN_H
#define ORCHARD_AUTHN_H
#include <stdbool.h>

#include "common/errors_gen.h"

struct request;
struct route;

/* Header kinds run as soon as the headers are complete, before any body
 * byte is read; body kinds (a JWS inside the body) run after the body. */
enum authn_stage { AUTHN_HEADERS, AUTHN_BODY };

enum authn_stage authn_stage(const struct route *r);

/* Runs req->route's kind. Returns true when the caller may proceed (for an
 * operator, req->op is filled and req->authenticated set); false with *err
 * set and req->challenge set to the kind's WWW-Authenticate value, if any. */
bool authn_check(struct request *req, enum err_code *err);

#endif
