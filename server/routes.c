/* THE route table: every endpoint orchardd serves, read top to bottom.
 * Columns: method, path pattern, handler, scope required, body, metric name. */
#include "server/routes.h"

#include "server/handlers.h"

/* A table reads best in columns. */
// clang-format off
const struct route routes[] = {
	{"GET",    "/healthz",          h_health_live,      SCOPE_NONE,         BODY_NONE, "healthz"},
	{"GET",    "/readyz",           h_health_ready,     SCOPE_NONE,         BODY_NONE, "readyz"},
	{"GET",    "/metrics",          h_metrics_get,      SCOPE_NONE,         BODY_NONE, "metrics"},

	{"GET",    "/ops/audit",        h_ops_audit_list,   SCOPE_AUDIT_READ,   BODY_NONE, "ops_audit"},
	{"POST",   "/ops/tokens",       h_ops_token_create, SCOPE_TOKENS_WRITE, BODY_JSON, "ops_token_create"},
	{"GET",    "/ops/tokens/{jti}", h_ops_token_get,    SCOPE_TOKENS_READ,  BODY_NONE, "ops_token_get"},
	{"DELETE", "/ops/tokens/{jti}", h_ops_token_revoke, SCOPE_TOKENS_WRITE, BODY_NONE, "ops_token_revoke"},
};
// clang-format on

const size_t routes_count = sizeof routes / sizeof routes[0];
