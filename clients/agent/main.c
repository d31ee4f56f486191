/* orchard-agent: the device side (docs/agent.md). Foreground, logs JSON
 * lines to stderr, SIGTERM stops it and its app. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "common/log.h"

static struct app *the_app;

static void on_signal(int sig)
{
	(void)sig;
	agent_stopping = 1;
}

static int interrupt_poll(void)
{
	return the_app && app_newly_ended(the_app);
}

static void nap(double s)
{
	for (double t = 0; t < s && !agent_stopping; t += 0.1)
		usleep(100000);
}

static void usage(void)
{
	fprintf(stderr, "usage: orchard-agent --config FILE\n");
}

/* Follows the twin: GET it once, then long-poll desired from its $version.
 * Returns 1 when the hub rejects the device (401, or 404 for a device it
 * does not know, twice, the second with a freshly signed SAS): it must
 * register again. */
static int follow(const struct agent_config *c, const struct agent_identity *id, struct app *a)
{
	char url[2048];
	long long version = -1;
	int fails = 0, rejected = 0;
	while (!agent_stopping) {
		app_tick(a);
		int wait = app_next_tick(a), cw = cert_tick(c, id);
		if (agent_stopping)
			break;
		wait = cw < wait ? (cw < 1 ? 1 : cw) : wait;
		if (version < 0)
			snprintf(url, sizeof(url), "%s/devices/%s/twin", c->url, id->device_id);
		else
			snprintf(url, sizeof(url), "%s/devices/%s/twin/desired?since=%lld&wait=%d",
				 c->url, id->device_id, version, wait);
		char *sas = device_auth(c, id);
		struct http_reply r;
		int rc = sas ? http_json(c, "GET", url, sas, NULL, wait + 15, &r) : -1;
		free(sas);
		if (rc < 0 || (r.status != 200 && r.status != 204)) {
			if (rc == 0) {
				char st[16];
				snprintf(st, sizeof(st), "%ld", r.status);
				log_kv(LOG_WARN, "twin read refused", "status", st, NULL);
				/* 401 (key refused) or 404 twin-device-unknown. */
				bool gone = r.status == 401 ||
					    (r.status == 404 && r.body &&
					     strstr(r.body, "/problems/twin-device-unknown"));
				if (r.status == 401 && cert_rejected()) {
					http_reply_free(&r);
					continue; /* the SAS next, and a new certificate */
				}
				if (gone && rejected++ > 0) {
					log_kv(LOG_WARN,
					       "the hub rejects the device: registering again",
					       "status", st, NULL);
					http_reply_free(&r);
					return 1;
				}
				if (gone)
					device_sas_forget();
				http_reply_free(&r);
			}
			if (agent_stopping || (rc < 0 && a && app_next_tick(a) == 0))
				continue;
			double b = 1 << (fails < 5 ? fails : 5);
			fails++;
			b = b > 30 ? 30 : b;
			nap(b / 2 + (b / 2) * (rand() % 1000) / 1000.0);
			continue;
		}
		fails = 0;
		rejected = 0;
		if (r.status == 200) {
			json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
			json_t *d = version < 0 ? json_object_get(json_object_get(j, "properties"),
								  "desired")
						: j;
			json_t *v = json_object_get(d, "$version");
			if (json_is_integer(v)) {
				version = json_integer_value(v);
				app_follow(a, json_object_get(d, "app"));
			}
			json_decref(j);
		}
		http_reply_free(&r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cfg = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			cfg = argv[++i];
		} else {
			usage();
			return 2;
		}
	}
	if (!cfg) {
		usage();
		return 2;
	}
	struct agent_config c;
	if (agent_config_load(&c, cfg) < 0) {
		agent_config_free(&c);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Over a file size limit a write fails with EFBIG (reported like a
	 * full disk) instead of killing the agent. */
	signal(SIGXFSZ, SIG_IGN);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	log_kv(LOG_INFO, "orchard-agent starting", "version", AGENT_VERSION, NULL);

	struct agent_identity id = {0};
	int rc = 1;
	if (dps_provision(&c, &id) == 0) {
		the_app = app_new(&c, &id);
		agent_interrupt = interrupt_poll;
		if (the_app) {
			cert_start(&c); /* before app_resume reports: its certificate */
			app_resume(the_app);
			cert_tick(&c, &id);
			report(&c, &id,
			       json_pack("{s:{s:s, s:s}}", "agent", "version", AGENT_VERSION,
					 "target", compiled_target()));
			while (follow(&c, &id, the_app) == 1) {
				device_sas_forget();
				cert_unpresent(); /* DPS would take it for X.509 attestation */
				dps_forget(&c);
				if (dps_provision(&c, &id) != 0)
					break;
			}
			rc = 0;
		}
	}
	log_kv(LOG_INFO, "orchard-agent stopping", NULL);
	app_free(the_app);
	the_app = NULL;
	device_sas_forget();
	cert_cleanup();
	compiled_cleanup();
	http_cleanup();
	agent_config_free(&c);
	return agent_stopping ? 0 : rc;
}
