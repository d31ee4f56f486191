/* The route table's types and the router: every endpoint orchardd serves
 * is one row in routes.c, matched by method and path pattern. */
#ifndef ORCHARD_ROUTES_H
#define ORCHARD_ROUTES_H
#include <stddef.h>

#include "common/errors_gen.h"

#define ROUTE_MAX_PARAMS 4
#define ROUTE_MAX_URL 2048

struct request;

/* Operator scopes a route may require; a token grants a set of them. */
enum scope {
	SCOPE_ENROLLMENTS_READ = 1 << 0,
	SCOPE_ENROLLMENTS_WRITE = 1 << 1,
	SCOPE_TWINS_READ = 1 << 2,
	SCOPE_TWINS_WRITE = 1 << 3,
	SCOPE_PKI_ADMIN = 1 << 4,
	SCOPE_AUDIT_READ = 1 << 5,
	SCOPE_TOKENS_READ = 1 << 6,
	SCOPE_TOKENS_WRITE = 1 << 7,
	SCOPE_ACME_ADMIN = 1 << 8,
	SCOPE_DEPOT_READ = 1 << 9,
	SCOPE_DEPOT_WRITE = 1 << 10,
	SCOPE_ALL = (1 << 11) - 1,
};

/* The DPS service SAS's rights (Azure's shared access policy rights), in
 * the bits above the scopes of an AUTH_DPS_SERVICE route's arg. */
enum dps_right {
	DPS_RIGHT_SERVICE_CONFIG = 1 << 16,
	DPS_RIGHT_ENROLLMENT_READ = 1 << 17,
	DPS_RIGHT_ENROLLMENT_WRITE = 1 << 18,
	DPS_RIGHT_REGISTRATION_READ = 1 << 19,
	DPS_RIGHT_REGISTRATION_WRITE = 1 << 20,
	DPS_RIGHTS_ALL = ((1 << 21) - 1) & ~((1 << 16) - 1),
};

/* Who may call a route. Header kinds are checked as soon as the headers
 * are in, before a byte of the body is read; body kinds (ACME's JWS) need
 * the body. server/authn.c runs them. */
enum auth_kind {
	AUTH_PUBLIC,	  /* anyone */
	AUTH_OPERATOR,	  /* Authorization: Bearer <operator token> holding arg's scopes */
	AUTH_DEVICE_SAS,  /* Authorization: SharedAccessSignature for the path's {idScope} and
			     {registrationId} (params 0 and 1), signed with an enrollment's key */
	AUTH_DEVICE_HUB,  /* the twin API's device credential for the path's {deviceId}
			     (params 0): IoT Hub's device SAS (server/hub_auth.c) */
	AUTH_DPS_SERVICE, /* the DPS service API: an operator token holding arg's scopes, or a
			     service SAS of a shared access policy holding arg's DPS rights */
	AUTH_ACME_JWS,	  /* an ACME JWS body (RFC 8555 6.2) signed with arg's key kinds */
};

/* Which key an ACME JWS may name: its own (jwk: newAccount, revokeCert)
 * or an account's (kid: everything else). ACME_LATE (with ACME_KID): the
 * handler reads the account and takes the nonce in its own first statement
 * (acme_late_settle(), server/acme.h), one round trip instead of two. */
enum acme_key_kind { ACME_JWK = 1 << 0, ACME_KID = 1 << 1, ACME_LATE = 1 << 2 };

struct route_auth {
	enum auth_kind kind;
	unsigned arg; /* scopes for AUTH_OPERATOR, enum acme_key_kind for AUTH_ACME_JWS */
};

#define PUBLIC                                                                                     \
	{                                                                                          \
		AUTH_PUBLIC, 0                                                                     \
	}
#define DEVICE_SAS                                                                                 \
	{                                                                                          \
		AUTH_DEVICE_SAS, 0                                                                 \
	}
#define DEVICE_HUB                                                                                 \
	{                                                                                          \
		AUTH_DEVICE_HUB, 0                                                                 \
	}
/* AUTH_DEVICE_HUB's arg: the device is the one its credential names (the
 * SAS's sr, the certificate's CN), not a path parameter: the depot's
 * downloads, which any registered device may make. */
#define DEVICE_SELF 1u
#define DEVICE_HUB_SELF                                                                            \
	{                                                                                          \
		AUTH_DEVICE_HUB, DEVICE_SELF                                                       \
	}
/* AUTH_DEVICE_SAS's arg: a request without Authorization reaches the
 * handler unauthenticated (the TPM flow's first request gets its 401 there). */
#define DEVICE_CHALLENGE 1u
#define DEVICE_SAS_OR_TPM                                                                          \
	{                                                                                          \
		AUTH_DEVICE_SAS, DEVICE_CHALLENGE                                                  \
	}
#define OPERATOR(scopes)                                                                           \
	{                                                                                          \
		AUTH_OPERATOR, (scopes)                                                            \
	}

#define DPS_SERVICE(scopes, rights)                                                                \
	{                                                                                          \
		AUTH_DPS_SERVICE, (scopes) | (rights)                                              \
	}

#define ACME_JWS(keys)                                                                             \
	{                                                                                          \
		AUTH_ACME_JWS, (keys)                                                              \
	}

/* What the body must be, when there is one: its media type decides the
 * parsing (BODY_JSON: application/json into req->json; BODY_JOSE:
 * application/jose+json, also parsed into req->json; BODY_RAW: any type,
 * bytes in req->body; BODY_UPLOAD: the same, capped by --depot-max-module
 * plus the container's overhead instead of --body-limit). */
enum body_kind { BODY_NONE, BODY_JSON, BODY_JOSE, BODY_RAW, BODY_UPLOAD };

/* The wire format of a route's errors (a family of common/errors.tsv):
 * Orchard's problem+json, ACME's problem documents, Azure DPS's bodies. */
#define WIRE_ORCHARD ERR_FAMILY_ORCHARD
#define WIRE_ACME ERR_FAMILY_ACME
#define WIRE_DPS ERR_FAMILY_DPS

#define KiB(n) ((size_t)(n)*1024)
#define MiB(n) ((size_t)(n)*1024 * 1024)

struct route {
	const char *method;
	const char *pattern; /* "/ops/tokens/{jti}": {name} captures one segment */
	int (*handler)(struct request *req);
	struct route_auth auth;
	enum body_kind body;
	size_t body_max;      /* largest body accepted; 0 with BODY_NONE */
	enum err_family wire; /* how its errors look on the wire */
	const char *name;     /* label for metrics and logs */
};

extern const struct route routes[];
extern const size_t routes_count;

enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/* Finds the route for method and path (path without query string). On
 * ROUTE_FOUND, *found is set and params[0..n) point to malloc'd,
 * percent-decoded copies of the captured segments (caller frees). On
 * ROUTE_NO_METHOD, allow receives "GET, DELETE" style text. Literal
 * segments compare case-insensitively, as DPS clients need. */
enum route_match route_find(const char *method, const char *path, const struct route **found,
			    char *params[ROUTE_MAX_PARAMS], int *nparams, char *allow,
			    size_t allow_len);

/* Scope names for tokens: "all", "twins:read"... */
unsigned scope_parse(const char *name);
/* The scopes in a space-separated list, as the "scope" claim holds them;
 * *bad counts the words that name no scope (empty or unknown). */
unsigned scope_parse_list(const char *text, unsigned *bad);
/* Writes the space-separated names of the scopes in mask. */
void scope_format(unsigned mask, char *out, size_t len);

#endif
