/* A small worker pool for slow outbound work (ACME challenge checks, DPS
 * allocation webhooks), so request threads never block on the network. */
#ifndef ORCHARD_JOBS_H
#define ORCHARD_JOBS_H
#include <stdbool.h>

struct jobs;
struct request;

/* Starts nthreads workers with a queue of at most max_queued jobs. */
struct jobs *jobs_start(int nthreads, int max_queued);
/* Refuses new jobs, runs what is queued and joins the workers, so every
 * request suspended on a job is resumed: libmicrohttpd aborts when it is
 * stopped with a connection suspended. Idempotent. */
void jobs_drain(struct jobs *j);
/* jobs_drain, then frees. */
void jobs_stop(struct jobs *j);

/* Queues run(cls) on a worker, then done(cls) on the same worker. Returns
 * 0, or -1 when the queue is full (the caller answers 503). */
int jobs_submit(struct jobs *j, void (*run)(void *cls), void (*done)(void *cls), void *cls);

/* The request-side pattern: suspends req, runs run(req->state) on a
 * worker, and resumes req when it returns; the route handler then runs
 * again and finds the job's result in req->state (set it first with
 * request_set_state). Returns false when the queue is full (req is not
 * suspended: answer 503). */
bool jobs_run_for(struct jobs *j, struct request *req, void (*run)(void *state));

#endif
