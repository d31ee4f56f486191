/* Counters are relaxed atomics in fixed arrays indexed by route and status,
 * so recording costs a few adds and never a lock or an allocation. */
#include "server/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "server/auth.h"
#include "server/edge.h"
#include "server/mqtt.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/store/store.h"
#include "server/twin_batch.h"
#include "server/wait.h"

#ifndef ORCHARD_VERSION
#define ORCHARD_VERSION "dev"
#endif

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				   0.05,   0.1,	  0.25,	  0.5,	 1,    2.5};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])
#define NSTATUS 600

struct route_metrics {
	atomic_uint_fast64_t by_status[NSTATUS];
	atomic_uint_fast64_t buckets[NBUCKETS + 1]; /* last is +Inf */
	atomic_uint_fast64_t sum_us;
};

struct metrics {
	size_t nroutes; /* routes_count + 1 for unmatched requests */
	struct route_metrics *per_route;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof *m);

	if (m == NULL)
		return NULL;
	m->nroutes = routes_count + 1;
	m->per_route = calloc(m->nroutes, sizeof *m->per_route);
	if (m->per_route == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	free(m->per_route);
	free(m);
}

void metrics_observe(struct metrics *m, const struct route *route, unsigned status, double seconds)
{
	size_t idx = route ? (size_t)(route - routes) : routes_count;
	struct route_metrics *rm = &m->per_route[idx];
	size_t b = 0;

	if (status >= NSTATUS)
		status = 0; /* 0: closed without a response */
	atomic_fetch_add_explicit(&rm->by_status[status], 1, memory_order_relaxed);
	while (b < NBUCKETS && seconds > bucket_le[b])
		b++;
	atomic_fetch_add_explicit(&rm->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rm->sum_us, (uint_fast64_t)(seconds * 1e6),
				  memory_order_relaxed);
}

static int addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int addf(struct buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return -1;
	return buf_add(b, line, (size_t)n);
}

static long resident_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

/* The last segment of an Orchard problem type ("auth-invalid"); ACME and
 * DPS rows have no such URI, so their stable number stands in. */
static const char *metrics_type_label(int e)
{
	static __thread char num[16];
	const char *t = err_table[e].type, *slash = t ? strrchr(t, '/') : NULL;

	if (slash != NULL)
		return slash + 1;
	snprintf(num, sizeof num, "%u", err_table[e].code);
	return num;
}

char *metrics_render(struct server *srv, size_t *len)
{
	struct metrics *m = srv->metrics;
	struct store_stats st;
	struct log_fault_counts faults;
	struct buf b;
	int err = 0;

	buf_init(&b, 4u << 20);
	err |= addf(&b, "# HELP orchard_http_requests_total HTTP requests by route and status.\n"
			"# TYPE orchard_http_requests_total counter\n");
	for (size_t r = 0; r < m->nroutes; r++) {
		const char *name = r < routes_count ? routes[r].name : "unmatched";
		for (unsigned s = 0; s < NSTATUS; s++) {
			uint_fast64_t n = atomic_load_explicit(&m->per_route[r].by_status[s],
							       memory_order_relaxed);
			if (n)
				err |= addf(
					&b,
					"orchard_http_requests_total{route=\"%s\",status=\"%u\"} %lu\n",
					name, s, (unsigned long)n);
		}
	}
	err |= addf(
		&b,
		"# HELP orchard_http_request_duration_seconds Time from first byte to response queued.\n"
		"# TYPE orchard_http_request_duration_seconds histogram\n");
	for (size_t r = 0; r < m->nroutes; r++) {
		struct route_metrics *rm = &m->per_route[r];
		const char *name = r < routes_count ? routes[r].name : "unmatched";
		uint_fast64_t cum = 0;
		for (size_t k = 0; k <= NBUCKETS; k++) {
			cum += atomic_load_explicit(&rm->buckets[k], memory_order_relaxed);
			if (k < NBUCKETS)
				err |= addf(
					&b,
					"orchard_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
					name, bucket_le[k], (unsigned long)cum);
			else
				err |= addf(
					&b,
					"orchard_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n",
					name, (unsigned long)cum);
		}
		err |= addf(&b, "orchard_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
			    name, (double)atomic_load(&rm->sum_us) / 1e6);
		err |= addf(&b, "orchard_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
			    name, (unsigned long)cum);
	}
	uint64_t edge[EDGE_NKINDS];
	edge_get_counts(srv->edge, edge);
	err |= addf(&b, "# HELP orchard_http_edge_refusals_total Requests and connections refused "
			"before a handler: by libmicrohttpd (mhd_*) or by the request deadline.\n"
			"# TYPE orchard_http_edge_refusals_total counter\n");
	for (int k = 0; k < EDGE_NKINDS; k++)
		err |= addf(&b, "orchard_http_edge_refusals_total{kind=\"%s\"} %lu\n",
			    edge_kind_names[k], (unsigned long)edge[k]);
	store_get_stats(srv->store, &st);
	err |= addf(
		&b,
		"# HELP orchard_db_pool_connections Pool size and connections in use.\n"
		"# TYPE orchard_db_pool_connections gauge\n"
		"orchard_db_pool_connections{state=\"size\"} %d\n"
		"orchard_db_pool_connections{state=\"in_use\"} %d\n"
		"# TYPE orchard_db_pool_waits_total counter\norchard_db_pool_waits_total %lu\n"
		"# TYPE orchard_db_pool_timeouts_total counter\norchard_db_pool_timeouts_total %lu\n"
		"# TYPE orchard_db_reconnects_total counter\norchard_db_reconnects_total %lu\n",
		st.size, st.in_use, (unsigned long)st.waits, (unsigned long)st.timeouts,
		(unsigned long)st.reconnects);
	err |= addf(&b,
		    "# HELP orchard_db_deadlines_total Connects and statements cut off at"
		    " --db-timeout.\n"
		    "# TYPE orchard_db_deadlines_total counter\norchard_db_deadlines_total %lu\n",
		    (unsigned long)st.deadlines);
	err |= addf(
		&b,
		"# TYPE orchard_http_requests_in_flight gauge\norchard_http_requests_in_flight %d\n"
		"# HELP orchard_requests_waiting Requests suspended until an event or deadline.\n"
		"# TYPE orchard_requests_waiting gauge\norchard_requests_waiting %ld\n"
		"# HELP orchard_body_bytes_in_flight Request body bytes buffered (see --body-budget).\n"
		"# TYPE orchard_body_bytes_in_flight gauge\norchard_body_bytes_in_flight %ld\n",
		atomic_load(&srv->active_requests), wait_count_sleeping(),
		atomic_load(&srv->body_in_flight));
	unsigned long long tb[4];
	twin_batch_counts(srv->twin_batch, &tb[0], &tb[1], &tb[2], &tb[3]);
	err |= addf(&b,
		    "# HELP orchard_twin_batches_total Twin batches run (server/twin_batch.c), and"
		    " what they did: reads answered, changes written, commits that wrote.\n"
		    "# TYPE orchard_twin_batches_total counter\norchard_twin_batches_total %llu\n",
		    tb[0]);
	err |= addf(&b,
		    "# TYPE orchard_twin_batch_jobs_total counter\n"
		    "orchard_twin_batch_jobs_total{kind=\"read\"} %llu\n"
		    "orchard_twin_batch_jobs_total{kind=\"change\"} %llu\n"
		    "# TYPE orchard_twin_batch_commits_total counter\n"
		    "orchard_twin_batch_commits_total %llu\n"
		    "# TYPE orchard_twin_batch_queued gauge\norchard_twin_batch_queued %ld\n",
		    tb[1], tb[2], tb[3], twin_batch_queued(srv->twin_batch));
	err |= addf(
		&b,
		"# HELP orchard_mqtt_devices_followed Devices this orchardd pushes desired"
		" changes to over MQTT (connected ones, that read their twin or listen).\n"
		"# TYPE orchard_mqtt_devices_followed gauge\norchard_mqtt_devices_followed %zu\n",
		mqtt_follows(srv->mqtt));
	err |= addf(&b,
		    "# HELP orchard_auth_refusals_total Operator token refusals by problem type.\n"
		    "# TYPE orchard_auth_refusals_total counter\n");
	for (int e = 0; e < ERR__COUNT; e++) {
		uint64_t n = auth_refusals(srv->auth, (enum err_code)e);
		if (n > 0)
			err |= addf(&b, "orchard_auth_refusals_total{type=\"%s\"} %lu\n",
				    metrics_type_label(e), (unsigned long)n);
	}
	log_fault_counts(&faults);
	err |= addf(&b,
		    "# HELP orchard_log_faults_total Error paths by whose fault: our bugs, bad "
		    "input, and bad-input log lines the sampling suppressed.\n"
		    "# TYPE orchard_log_faults_total counter\n"
		    "orchard_log_faults_total{kind=\"bug\"} %llu\n"
		    "orchard_log_faults_total{kind=\"bad_input\"} %llu\n"
		    "orchard_log_faults_total{kind=\"bad_input_suppressed\"} %llu\n",
		    faults.bugs, faults.bad_input, faults.bad_input_suppressed);
	err |= addf(
		&b,
		"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
		resident_bytes());
	err |= addf(
		&b,
		"# HELP orchard_build_info Build of this orchardd.\n# TYPE orchard_build_info gauge\n"
		"orchard_build_info{version=\"%s\"} 1\n",
		ORCHARD_VERSION);
	if (err) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return (char *)b.data;
}
