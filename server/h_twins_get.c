/* GET /twins/{deviceId}: the twin; with ?waitForVersion=N&wait=SECONDS, a
 * long poll that answers once desired.$version > N (at once when it is
 * already), or 204 when the wait is over. A change through any orchardd on
 * the database wakes it (EVENTS_TWIN, keyed by device ID). The device's
 * own reads are the same code with another view: GET /devices/{id}/twin
 * (no tags) and GET /devices/{id}/twin/desired?since=N&wait=SECONDS. The
 * operator's view carries `configurations` once the fleet has any. */
#include <stdlib.h>
#include <string.h>

#include "server/configs_member.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/twin_batch.h"
#include "server/twins.h"
#include "server/wait.h"

#define TWIN_WAIT_MAX 60

static void read_job_free(void *cls)
{
	struct twin_job *j = cls;

	twin_job_clear(j);
	free(j);
}

/* A read without a wait goes through the twin batch (server/twin_batch.c):
 * the request waits suspended while the writer reads every twin queued
 * meanwhile in one statement. Returns 1 when suspended (return MHD_YES),
 * 0 with *qs and *row filled (moved out of the job), -1 out of memory. */
static int twin_read_batched(struct request *req, const char *id, struct store_twin *row,
			     enum store_qs *qs)
{
	struct twin_job *j = req->state;

	if (j == NULL && req->srv->twin_batch != NULL) {
		if ((j = calloc(1, sizeof *j)) == NULL)
			return -1;
		*j = (struct twin_job){.req = req, .id = id};
		request_set_state(req, j, read_job_free);
		if (twin_batch_submit(req->srv->twin_batch, j))
			return 1;
		request_set_state(req, NULL, NULL); /* stopping: read it here */
		j = NULL;
	}
	if (j == NULL) {
		*qs = twin_select(req->srv->store, id, row);
		return 0;
	}
	*qs = j->qs;
	*row = j->row;
	memset(&j->row, 0, sizeof j->row);
	return 0;
}

/* The twin of params[0] in view; since_arg names the version argument
 * that makes it a long poll on desired.$version (NULL: none). */
static int twin_get(struct request *req, enum twin_view view, const char *since_arg)
{
	struct {
		const char *id;
		struct store_twin row;
	} r = {.id = req->params[0]};
	struct waiter *w = NULL;
	json_t *configs = NULL;
	long long since = 0, wait = 0;
	bool has_since, has_wait;
	enum store_qs qs;
	int ret;

	if (!twin_device_id_ok(r.id))
		return reply_problem(req, ERR_TWIN_BAD_DEVICE_ID, NULL);
	has_since = since_arg != NULL && request_arg(req, since_arg) != NULL;
	has_wait = since_arg != NULL && request_arg(req, "wait") != NULL;
	if (has_since && request_arg_ll(req, since_arg, 0, 0, TWIN_INT_MAX, &since) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "%s must be a version (0 or more)",
				     since_arg);
	if (has_wait && request_arg_ll(req, "wait", 0, 0, TWIN_WAIT_MAX, &wait) != 0)
		return reply_problem(req, ERR_INVALID_PARAMETER, "wait must be 0..%d seconds",
				     TWIN_WAIT_MAX);
	if (has_wait && !has_since)
		return reply_problem(req, ERR_INVALID_PARAMETER, "wait needs %s", since_arg);
	if (wait > 0)
		w = req->state;
	if (w == NULL && wait > 0) {
		w = wait_new(req->srv, req->conn, EVENTS_TWIN, r.id, (long)wait * 1000);
		if (w == NULL)
			return reply_problem(req, ERR_INTERNAL, "cannot wait");
		request_set_state(req, w, wait_free_cb);
	}
	for (;;) {
		if (w == NULL) {
			int b = twin_read_batched(req, r.id, &r.row, &qs);

			if (b > 0)
				return MHD_YES; /* resumed with the twin */
			if (b < 0)
				return reply_problem(req, ERR_INTERNAL, "cannot read");
		} else {
			qs = twin_select(req->srv->store, r.id, &r.row);
		}
		if (qs < 0)
			return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		if (qs == STORE_NONE)
			return reply_problem(req, ERR_TWIN_NOT_FOUND, "no twin for %s", r.id);
		if (!has_since || r.row.desired_version > since)
			break;
		store_twin_free(&r.row);
		if (w == NULL || wait_expired(w))
			return reply_empty(req, 204);
		if (wait_sleep(w))
			return MHD_YES; /* resumed by a change or the deadline */
	}
	if (view == TWIN_VIEW_FULL && configs_member(req->srv, r.id, &configs) != 0) {
		store_twin_free(&r.row);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	ret = twin_reply_with(req, &r.row, view, configs);
	json_decref(configs);
	store_twin_free(&r.row);
	return ret;
}

int h_twins_get(struct request *req)
{
	return twin_get(req, TWIN_VIEW_FULL, "waitForVersion");
}

int h_twins_device_get(struct request *req)
{
	return twin_get(req, TWIN_VIEW_DEVICE, NULL);
}

int h_twins_device_desired(struct request *req)
{
	return twin_get(req, TWIN_VIEW_DESIRED, "since");
}
