/* orchardd: the entry point. Subcommands serve (the default), migrate and
 * token issue/revoke all share one configuration and one data folder. */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/file.h"
#include "common/log.h"
#include "pki/devpki.h"
#include "server/acme.h"
#include "server/attest_roots.h"
#include "server/depot.h"
#include "server/auth.h"
#include "server/certs.h"
#include "server/dps.h"
#include "server/http.h"
#include "server/jobs.h"
#include "server/mqtt.h"
#include "server/mqtt_broker.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/store/migrate.h"
#include "server/store/revocations.h"
#include "server/store/store.h"
#include "server/timers.h"
#include "server/tokens.h"
#include "server/twin_batch.h"

#ifndef ORCHARD_VERSION
#define ORCHARD_VERSION "dev"
#endif

static void usage(void)
{
	printf("usage: orchardd [SETTINGS] [serve]\n"
	       "       orchardd [SETTINGS] migrate\n"
	       "       orchardd [SETTINGS] id-scope       (prints the DPS ID scope, made on first use)\n"
	       "       orchardd [SETTINGS] token issue --scope SCOPE [--scope SCOPE]... [--ttl 1h] [--subject NAME]\n"
	       "       orchardd [SETTINGS] token revoke JTI\n"
	       "       orchardd [SETTINGS] cert issue --csr FILE --profile NAME --san dns:NAME... [--out FILE]\n"
	       "       orchardd [SETTINGS] cert revoke SERIAL [--reason NAME]\n"
	       "       orchardd --version\n\n"
	       "Scopes: all, enrollments:read, enrollments:write, twins:read, twins:write,\n"
	       "        pki:admin, audit:read, tokens:read, tokens:write, acme:admin,\n"
	       "        depot:read, depot:write\n\n");
	config_print_help();
}

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* Fills the settings that default to places under the data folder. With no
 * database URL, the private cluster `make run` keeps under DATA_DIR is used. */
static int config_resolve(struct config *cfg)
{
	char abs[PATH_MAX];

	if (cfg->database_url == NULL) {
		if (realpath(cfg->data_dir, abs) == NULL) {
			fprintf(stderr,
				"orchardd: data folder %s: %s (set ORCHARD_DATABASE_URL or run `make run` once)\n",
				cfg->data_dir, strerror(errno));
			return -1;
		}
		if (strchr(abs, '\'') || strchr(abs, '\\') ||
		    asprintf(&cfg->database_url, "host='%s/run' dbname=orchard user=orchard", abs) <
			    0)
			return -1;
		cfg->db_url_derived = 1;
	}
	if (cfg->jwt_key == NULL) {
		cfg->jwt_key = path_join(cfg->data_dir, "keys/operator-jwt.pem");
		if (cfg->jwt_key == NULL)
			return -1;
		cfg->jwt_key_derived = 1;
	}
	return 0;
}

/* Slow outbound work (challenge checks, webhooks) waits on the network,
 * not the CPU: a few threads go a long way. */
#define JOBS_THREADS 4
#define JOBS_QUEUE 1024
/* Validations mostly wait on the network (5 s timeouts): more threads. */
#define ACME_JOBS_THREADS 8

static const char *const event_channels[] = {EVENTS_AUDIT,
					     EVENTS_TOKEN_REVOKED,
					     EVENTS_TWIN,
					     EVENTS_DEVICE_MESSAGE,
					     EVENTS_DPS_ENROLLMENT,
					     EVENTS_DPS_REGISTRATION,
					     EVENTS_CERT_REVOKED,
					     EVENTS_ACME_AUTHZ,
					     EVENTS_C2D,
					     NULL};

/* The default key under the data folder is created on first use; a key
 * named explicitly must exist: a typo must not mint a new key that no
 * other instance trusts. */
static int jwt_key_ready(const struct config *cfg)
{
	if (cfg->jwt_key_derived)
		return devpki_ensure_key(cfg->jwt_key);
	if (access(cfg->jwt_key, R_OK) != 0) {
		log_kv(LOG_ERROR, "the operator token key given with --jwt-key cannot be read",
		       "path", cfg->jwt_key, "error", strerror(errno), NULL);
		return -1;
	}
	return 0;
}

/* The per-statement database deadline in milliseconds. */
static int db_deadline_ms(const struct config *cfg)
{
	return (int)(cfg->db_timeout > 3600 ? 3600 : cfg->db_timeout) * 1000;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static int cmd_serve(struct server *srv)
{
	char *cert_path = NULL, *key_path = NULL, *cert = NULL, *key = NULL;
	struct revocations *revoked = NULL;
	struct http *http = NULL;
	struct mqtt *mqtt = NULL;
	struct mqtt_broker *broker = NULL;
	char backend[64];
	int mqtt_failed = 0;
	int rc = 1;

	if (srv->cfg.tls_cert == NULL || srv->cfg.tls_key == NULL) {
		char *pki = path_join(srv->cfg.data_dir, "pki");
		int ok = pki != NULL && devpki_ensure(pki) == 0;
		cert_path = ok ? path_join(pki, "server.pem") : NULL;
		key_path = ok ? path_join(pki, "server.key") : NULL;
		free(pki);
	} else {
		cert_path = strdup(srv->cfg.tls_cert);
		key_path = strdup(srv->cfg.tls_key);
	}
	if (cert_path == NULL || key_path == NULL)
		goto out;
	cert = file_read(cert_path, 1 << 20, NULL);
	key = file_read(key_path, 1 << 20, NULL);
	if (cert == NULL || key == NULL) {
		log_kv(LOG_ERROR, "cannot read the TLS certificate or key", "cert", cert_path,
		       "key", key_path, NULL);
		goto out;
	}
	if (jwt_key_ready(&srv->cfg) != 0 || migrate_apply(srv->cfg.database_url) != 0 ||
	    (srv->ca = certs_ca_open(&srv->cfg)) == NULL || attest_roots_load(srv) != 0)
		goto out;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Blocked before the first thread starts: every thread inherits the
	 * mask, so only this one wakes, in sigsuspend() below. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	/* One malloc arena a core, not glibc's eight: each TLS handshake's
	 * scratch memory then lands in fewer arenas, which hold less of it
	 * freed but resident. Measured (bench/twins.sh, 1,000 suspended
	 * devices): 22.1 -> 19.8 KB per waiting device; no change in CPU per
	 * GET or PATCH. */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	mallopt(M_ARENA_MAX, ncpu < 2 ? 2 : (int)ncpu);
	srv->events = events_start(srv->cfg.database_url, event_channels);
	revoked = srv->events ? revocations_start(srv->cfg.database_url, db_deadline_ms(&srv->cfg),
						  srv->events)
			      : NULL;
	srv->auth = revoked ? auth_new(srv->cfg.jwt_key, revoked) : NULL;
	srv->store =
		store_new(srv->cfg.database_url, (int)srv->cfg.db_pool, db_deadline_ms(&srv->cfg));
	srv->metrics = metrics_new();
	srv->timers = timers_start();
	srv->jobs = jobs_start(JOBS_THREADS, JOBS_QUEUE);
	srv->acme_jobs = jobs_start(ACME_JOBS_THREADS, JOBS_QUEUE);
	srv->twin_batch = srv->store ? twin_batch_start(srv) : NULL;
	srv->crl = srv->events ? certs_crl_new(srv->events) : NULL;
	srv->acme_nonce = acme_nonce_issue;
	if (srv->auth == NULL || srv->store == NULL || srv->metrics == NULL ||
	    srv->events == NULL || srv->timers == NULL || srv->jobs == NULL ||
	    srv->twin_batch == NULL || srv->acme_jobs == NULL || srv->crl == NULL)
		goto out;
	if (dps_id_scope_init(srv) != 0 || depot_start(srv) != 0)
		goto out;

	/* orchardd's own broker (--mqtt-listen): the backend connects to it */
	broker = mqtt_broker_start(srv, cert_path, key_path, backend, sizeof backend, &mqtt_failed);
	if (mqtt_failed)
		goto out;
	if (broker != NULL && srv->cfg.mqtt_broker == NULL)
		srv->cfg.mqtt_broker = strdup(backend);
	/* Before the first request: direct methods call it. */
	mqtt = mqtt_start(srv, &mqtt_failed);
	if (mqtt_failed)
		goto out;
	srv->mqtt = mqtt;
	http = http_start(srv, cert, key);
	if (http == NULL)
		goto out;
	OPENSSL_cleanse(key, strlen(key));
	sigset_t empty;
	sigemptyset(&empty);
	while (!got_signal)
		sigsuspend(&empty);
	log_kv(LOG_INFO, "shutting down", "signal", got_signal == SIGINT ? "SIGINT" : "SIGTERM",
	       NULL);
	/* Waiting requests answer now (204, or the end of a stream), so they
	 * finish within the grace period like any other. */
	atomic_store(&srv->shutting_down, 1);
	timers_fire_all(srv->timers);
	/* Queued twin reads and changes finish (answered) before connections
	 * close; requests still coming in the grace period find it stopped
	 * (alive, so srv->twin_batch does not change under them) and write
	 * alone. */
	twin_batch_stop(srv->twin_batch);
	http_stop(http, srv, srv->cfg.grace);
	http = NULL;
	rc = 0;
out:
	if (http != NULL) {
		atomic_store(&srv->shutting_down, 1);
		timers_fire_all(srv->timers);
	}
	twin_batch_stop(srv->twin_batch);
	http_stop(http, srv, 0);
	twin_batch_free(srv->twin_batch);
	srv->twin_batch = NULL;
	srv->mqtt = NULL;
	mqtt_stop(mqtt);
	mqtt_broker_stop(broker);
	depot_stop(srv); /* its compile worker first: it uses the store */
	jobs_stop(srv->jobs);
	jobs_stop(srv->acme_jobs);
	revocations_stop(revoked);
	certs_crl_free(srv->crl, srv->events);
	events_stop(srv->events);
	attest_roots_free(srv);
	pki_ca_free(srv->ca);
	timers_stop(srv->timers);
	auth_free(srv->auth);
	store_free(srv->store);
	metrics_free(srv->metrics);
	free(cert_path);
	free(key_path);
	free(cert);
	free(key);
	return rc;
}

/* Prints the DPS ID scope (read, or made and stored as serve would), so
 * `make run` can show it before the server starts. */
static int cmd_id_scope(struct server *srv)
{
	int rc = 1;

	if (migrate_apply(srv->cfg.database_url) != 0)
		return 1;
	srv->store = store_new(srv->cfg.database_url, 1, db_deadline_ms(&srv->cfg));
	if (srv->store != NULL && dps_id_scope_init(srv) == 0) {
		printf("%s\n", srv->id_scope);
		rc = 0;
	}
	store_free(srv->store);
	srv->store = NULL;
	return rc;
}

static int cmd_token(struct server *srv, int argc, char **argv)
{
	struct tokens_mint m = {.subject = "operator", .ttl = 3600};
	struct tokens_issued issued = {0};
	enum store_qs qs;
	int rc = 1;

	if (argc >= 3 && strcmp(argv[1], "revoke") == 0) {
		srv->store = store_new(srv->cfg.database_url, 1, db_deadline_ms(&srv->cfg));
		qs = srv->store ? tokens_revoke(srv->store, argv[2]) : STORE_HARD;
		if (qs == STORE_NONE)
			fprintf(stderr, "orchardd: no unrevoked token with jti %s\n", argv[2]);
		else if (qs > 0)
			printf("revoked %s and %d token(s) it minted\n", argv[2], (int)qs - 1);
		store_free(srv->store);
		return qs > 0 ? 0 : 1;
	}
	if (argc < 2 || strcmp(argv[1], "issue") != 0) {
		fprintf(stderr,
			"usage: orchardd token issue --scope SCOPE [--ttl 1h] [--subject NAME]\n"
			"       orchardd token revoke JTI\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--scope") == 0 && v) {
			unsigned mask = scope_parse(v);
			if (mask == 0) {
				fprintf(stderr, "orchardd: unknown scope %s\n", v);
				return 2;
			}
			m.scopes |= mask;
		} else if (strcmp(argv[i], "--ttl") == 0 && v) {
			m.ttl = duration_parse(v);
			if (m.ttl <= 0 || m.ttl > TOKENS_MAX_TTL) {
				fprintf(stderr,
					"orchardd: --ttl wants 90s, 15m, 1h or 7d style, at most 90d\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--subject") == 0 && v) {
			if (!tokens_subject_valid(v)) {
				fprintf(stderr,
					"orchardd: --subject wants 1 to %d bytes of UTF-8 text without control characters\n",
					TOKENS_MAX_SUBJECT);
				return 2;
			}
			m.subject = v;
		} else {
			fprintf(stderr, "orchardd: token issue: bad argument %s\n", argv[i]);
			return 2;
		}
		i++;
	}
	if (m.scopes == 0) {
		fprintf(stderr, "orchardd: token issue needs at least one --scope\n");
		return 2;
	}
	if (jwt_key_ready(&srv->cfg) != 0 || migrate_apply(srv->cfg.database_url) != 0)
		return 1;
	srv->auth = auth_new(srv->cfg.jwt_key, NULL);
	srv->store = store_new(srv->cfg.database_url, 1, db_deadline_ms(&srv->cfg));
	if (srv->auth && srv->store &&
	    tokens_create(srv->store, srv->auth, &m, NULL, &issued) == STORE_ONE) {
		printf("%s\n", issued.token);
		fprintf(stderr, "jti %s, expires in %ld s\n", issued.jti, m.ttl);
		tokens_issued_free(&issued);
		rc = 0;
	}
	auth_free(srv->auth);
	store_free(srv->store);
	return rc;
}

int main(int argc, char **argv)
{
	struct server srv = {0};
	int rc = 2;

	if (config_load(&srv.cfg, &argc, argv) != 0)
		goto out;
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		usage();
		rc = 0;
		goto out;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("orchardd %s\n", ORCHARD_VERSION);
		rc = 0;
		goto out;
	}
	log_set_level(strcmp(srv.cfg.log_level, "debug") == 0	? LOG_DEBUG
		      : strcmp(srv.cfg.log_level, "warn") == 0	? LOG_WARN
		      : strcmp(srv.cfg.log_level, "error") == 0 ? LOG_ERROR
								: LOG_INFO);
	if (config_resolve(&srv.cfg) != 0)
		goto out;
	if (argc == 1 || strcmp(argv[1], "serve") == 0)
		rc = cmd_serve(&srv);
	else if (strcmp(argv[1], "migrate") == 0)
		rc = migrate_apply(srv.cfg.database_url) == 0 ? 0 : 1;
	else if (strcmp(argv[1], "token") == 0)
		rc = cmd_token(&srv, argc - 1, argv + 1);
	else if (strcmp(argv[1], "id-scope") == 0)
		rc = cmd_id_scope(&srv);
	else if (strcmp(argv[1], "cert") == 0)
		rc = cmd_cert(&srv, argc - 1, argv + 1);
	else {
		fprintf(stderr, "orchardd: unknown command %s (see --help)\n", argv[1]);
		rc = 2;
	}
out:
	config_free(&srv.cfg);
	return rc;
}
