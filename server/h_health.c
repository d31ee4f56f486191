/* Liveness, readiness and metrics: what a load balancer, an orchestrator
 * and Prometheus ask, none of it behind a token and none of it secret. */
#include <stdlib.h>

#include "server/handlers.h"
#include "server/metrics.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/store.h"

int h_health_live(struct request *req)
{
	static const char body[] = "{\"status\":\"ok\"}";

	return reply_text(req, 200, "application/json", body, sizeof body - 1);
}

int h_health_ready(struct request *req)
{
	struct server *srv = req->srv;
	int ready;

	if (atomic_load(&srv->shutting_down))
		return reply_problem(req, ERR_SHUTTING_DOWN, NULL);
	ready = store_check_ready(srv->store);
	if (ready < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, "cannot reach PostgreSQL in time");
	if (ready == 0)
		return reply_problem(req, ERR_NOT_READY, "database migrations are not current");
	return reply_json_steal(req, 200, json_pack("{s:s}", "status", "ready"));
}

int h_metrics_get(struct request *req)
{
	size_t len = 0;
	char *text = metrics_render(req->srv, &len);
	int ret;

	if (text == NULL)
		return reply_problem(req, ERR_INTERNAL, "cannot render metrics");
	ret = reply_text(req, 200, "text/plain; version=0.0.4", text, len);
	free(text);
	return ret;
}
