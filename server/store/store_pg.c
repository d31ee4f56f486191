/* libpq with deadlines: connect and exec on a nonblocking connection,
 * polling its socket until a monotonic deadline, so a database that stops
 * answering (SIGSTOP, a partition) never holds a thread past it. */
#include "server/store/store_pg.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on pg's socket until deadline: 1 ready, 0 timed out,
 * -1 on a socket error. */
static int wait_socket(PGconn *pg, short events, int64_t deadline)
{
	struct pollfd pfd = {PQsocket(pg), events, 0};

	if (pfd.fd < 0)
		return -1;
	for (;;) {
		int64_t left = deadline - store_now_ms();
		if (left <= 0)
			return 0;
		int n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Logs why a connect failed: ours (a deadline) or libpq's message. */
static void log_connect_failure(PGconn *pg, const char *ours)
{
	/* During an outage every request tries to reconnect: one line
	 * every 5 s says it all. PQerrorMessage holds no password. */
	static atomic_long last_logged;
	long now = (long)time(NULL), last = atomic_load(&last_logged);

	if (now - last >= 5 && atomic_compare_exchange_strong(&last_logged, &last, now)) {
		const char *why = ours			      ? ours
				  : pg && *PQerrorMessage(pg) ? PQerrorMessage(pg)
							      : "out of memory";
		char msg[256];
		size_t n = strcspn(why, "\n");
		snprintf(msg, sizeof msg, "%.*s", (int)(n < 200 ? n : 200), why);
		log_kv(LOG_WARN, "database connect failed (repeats are muted for 5 s)", "error",
		       msg, NULL);
	}
}

PGconn *store_connect_until(const char *url, int64_t deadline, int statement_timeout_ms)
{
	char options[128], timeout[24];
	const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
	const char *vals[] = {url, timeout, "orchardd", options, NULL};
	int64_t left = deadline - store_now_ms();
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *pg = NULL;
	const char *why = NULL;

	/* libpq's own timeout (whole seconds, at least 2) also bounds the
	 * steps our polling cannot see, such as resolving a host name. */
	snprintf(timeout, sizeof timeout, "%lld", (long long)(left < 2000 ? 2 : left / 1000 + 1));
	if (statement_timeout_ms > 0)
		snprintf(options, sizeof options,
			 "-c client_min_messages=warning -c statement_timeout=%d",
			 statement_timeout_ms);
	else
		snprintf(options, sizeof options, "-c client_min_messages=warning");
	pg = PQconnectStartParams(keys, vals, 1);
	if (pg == NULL || PQstatus(pg) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		int ready;
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		ready = wait_socket(pg, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (ready <= 0) {
			why = ready == 0 ? "no answer before the deadline" : "socket error";
			goto fail;
		}
		st = PQconnectPoll(pg);
	}
	if (PQsetnonblocking(pg, 1) != 0)
		goto fail;
	return pg;
fail:
	log_connect_failure(pg, why);
	PQfinish(pg);
	return NULL;
}

/* Sends what PQsend* queued, then reads results until none are left;
 * keeps the last (an error is always the last before NULL). Returns NULL
 * when the connection broke or, with *timed_out, when the deadline passed. */
static PGresult *read_results(PGconn *pg, int64_t deadline, int *timed_out)
{
	PGresult *last = NULL, *r;
	int flushed, ready = 1;

	while ((flushed = PQflush(pg)) == 1)
		if ((ready = wait_socket(pg, POLLIN | POLLOUT, deadline)) <= 0 ||
		    PQconsumeInput(pg) == 0)
			goto broken;
	if (flushed < 0)
		goto broken;
	for (;;) {
		while (PQisBusy(pg))
			if ((ready = wait_socket(pg, POLLIN, deadline)) <= 0 ||
			    PQconsumeInput(pg) == 0)
				goto broken;
		if ((r = PQgetResult(pg)) == NULL)
			break;
		PQclear(last);
		last = r;
		if (PQstatus(pg) == CONNECTION_BAD)
			break;
	}
	return last;
broken:
	/* A broken connection reads as a fatal error (NULL); only silence
	 * past the deadline is a timeout. */
	PQclear(last);
	*timed_out = ready == 0;
	return NULL;
}

PGresult *store_pg_exec(PGconn *pg, const char *sql, const char *stmt_name, int nparams,
			const char *const *params, int64_t deadline, int *timed_out)
{
	return store_pg_exec_bin(pg, sql, stmt_name, nparams, params, NULL, 0, deadline, timed_out);
}

PGresult *store_pg_exec_bin(PGconn *pg, const char *sql, const char *stmt_name, int nparams,
			    const char *const *params, const struct store_bin *bin,
			    int result_binary, int64_t deadline, int *timed_out)
{
	const int *lengths = bin ? bin->lengths : NULL, *formats = bin ? bin->formats : NULL;
	int sent = 1;

	*timed_out = 0;
	if (pg == NULL)
		return NULL;
	if (stmt_name != NULL)
		sent = PQsendQueryPrepared(pg, stmt_name, nparams, params, lengths, formats,
					   result_binary);
	else if (sql != NULL && nparams > 0)
		sent = PQsendQueryParams(pg, sql, nparams, NULL, params, lengths, formats,
					 result_binary);
	else if (sql != NULL)
		sent = PQsendQuery(pg, sql);
	if (sent != 1)
		return NULL; /* PQresultStatus(NULL) reads as a fatal error */
	return read_results(pg, deadline, timed_out);
}

char *store_value_dup(const PGresult *res, int row, int col, int *ok)
{
	char *v;

	if (PQgetisnull(res, row, col))
		return NULL;
	v = strdup(PQgetvalue(res, row, col));
	if (v == NULL)
		*ok = 0;
	return v;
}

int store_bytes_dup(const PGresult *res, int row, int col, uint8_t **data, size_t *len)
{
	size_t n = (size_t)PQgetlength(res, row, col);

	if ((*data = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	memcpy(*data, PQgetvalue(res, row, col), n);
	*len = n;
	return 0;
}

long long store_value_ll(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}
