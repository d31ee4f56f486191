/* The worker pool: a bounded FIFO under one mutex. A job's completion
 * resumes its request from the worker thread, which libmicrohttpd allows
 * (MHD_resume_connection is thread-safe with MHD_USE_ITC). */
#include "server/jobs.h"

#include <pthread.h>
#include <stdlib.h>

#include "server/request.h"

struct job {
	void (*run)(void *cls);
	void (*done)(void *cls);
	void *cls;
	struct job *next;
};

struct jobs {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, **tail;
	int queued, max_queued, nthreads;
	bool stop;
	pthread_t threads[];
};

static void *jobs_main(void *arg)
{
	struct jobs *j = arg;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (j->head == NULL && !j->stop)
			pthread_cond_wait(&j->cv, &j->mu);
		struct job *job = j->head;
		if (job != NULL) {
			j->head = job->next;
			if (j->head == NULL)
				j->tail = &j->head;
			j->queued--;
		}
		pthread_mutex_unlock(&j->mu);
		if (job == NULL)
			return NULL; /* stopping, and the queue is empty */
		job->run(job->cls);
		if (job->done != NULL)
			job->done(job->cls);
		free(job);
	}
}

struct jobs *jobs_start(int nthreads, int max_queued)
{
	struct jobs *j = calloc(1, sizeof *j + (size_t)nthreads * sizeof(pthread_t));

	if (j == NULL)
		return NULL;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->tail = &j->head;
	j->max_queued = max_queued;
	for (; j->nthreads < nthreads; j->nthreads++)
		if (pthread_create(&j->threads[j->nthreads], NULL, jobs_main, j) != 0) {
			jobs_stop(j);
			return NULL;
		}
	return j;
}

void jobs_drain(struct jobs *j)
{
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	for (; j->nthreads > 0; j->nthreads--)
		pthread_join(j->threads[j->nthreads - 1], NULL);
	/* Left over only when no worker could start: run them here, so every
	 * suspended request is resumed and every job freed. */
	for (struct job *job = j->head, *next; job != NULL; job = next) {
		next = job->next;
		job->run(job->cls);
		if (job->done != NULL)
			job->done(job->cls);
		free(job);
	}
	j->head = NULL;
	j->tail = &j->head;
}

void jobs_stop(struct jobs *j)
{
	if (j == NULL)
		return;
	jobs_drain(j);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* Queues job unless stopping or full; before(arg), if given, runs under
 * the lock once the job is sure to be queued, before any worker can take
 * it. Frees job when it is refused. */
static int jobs_enqueue(struct jobs *j, struct job *job, void (*before)(void *arg), void *arg)
{
	int rc = -1;

	pthread_mutex_lock(&j->mu);
	if (!j->stop && j->queued < j->max_queued) {
		if (before != NULL)
			before(arg);
		*j->tail = job;
		j->tail = &job->next;
		j->queued++;
		pthread_cond_signal(&j->cv);
		job = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&j->mu);
	free(job);
	return rc;
}

int jobs_submit(struct jobs *j, void (*run)(void *cls), void (*done)(void *cls), void *cls)
{
	struct job *job = malloc(sizeof *job);

	if (job == NULL)
		return -1;
	*job = (struct job){run, done, cls, NULL};
	return jobs_enqueue(j, job, NULL, NULL);
}

struct job_for {
	struct request *req;
	void (*run)(void *state);
};

static void job_for_run(void *cls)
{
	struct job_for *jf = cls;

	jf->run(jf->req->state);
}

static void job_for_done(void *cls)
{
	struct job_for *jf = cls;

	request_resume(jf->req);
	free(jf);
}

static void job_for_suspend(void *arg)
{
	request_suspend(arg);
}

bool jobs_run_for(struct jobs *j, struct request *req, void (*run)(void *state))
{
	struct job_for *jf = malloc(sizeof *jf);
	struct job *job = malloc(sizeof *job);

	if (jf == NULL || job == NULL) {
		free(jf);
		free(job);
		return false;
	}
	*jf = (struct job_for){req, run};
	*job = (struct job){job_for_run, job_for_done, jf, NULL};
	/* Suspended before a worker can see the job, so a job that finishes
	 * at once resumes a suspended request, never a running one; and only
	 * once it is sure to be queued, so a refusal can still be answered. */
	if (jobs_enqueue(j, job, job_for_suspend, req) == 0)
		return true;
	free(jf);
	return false;
}
