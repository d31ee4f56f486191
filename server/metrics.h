/* Prometheus metrics: requests by route and status, latency histograms by
 * route, pool usage, memory and build info, rendered as text format. */
#ifndef ORCHARD_METRICS_H
#define ORCHARD_METRICS_H
#include <stddef.h>

struct metrics;
struct route;
struct server;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Records one finished request; route may be NULL (unmatched). */
void metrics_observe(struct metrics *m, const struct route *route, unsigned status, double seconds);

/* Renders everything in Prometheus text format; caller frees. */
char *metrics_render(struct server *srv, size_t *len);

#endif
