/* Configuration: flags > environment > config file > defaults, all from
 * one table so --help, the README table and the parser cannot disagree. */
#include "server/config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "depot/depot.h"

enum kind { STR, NUM };

struct setting {
	const char *name; /* flag --name, file key name, env ORCHARD_NAME */
	enum kind kind;
	size_t offset;
	const char *def;
	const char *help;
};

#define S(n, k, field, def, help)                                                                  \
	{                                                                                          \
		n, k, offsetof(struct config, field), def, help                                    \
	}
static const struct setting settings[] = {
	S("listen", STR, listen, "127.0.0.1:8443",
	  "addresses to listen on, host:port, comma-separated"),
	S("database-url", STR, database_url, NULL,
	  "libpq URL; default: the private cluster's socket under DATA_DIR/run"),
	S("data-dir", STR, data_dir, "./var", "state folder: dev PKI, keys, private PostgreSQL"),
	S("tls-cert", STR, tls_cert, NULL,
	  "TLS certificate chain (PEM); default: DATA_DIR/pki/server.pem"),
	S("tls-key", STR, tls_key, NULL, "TLS private key (PEM); default: DATA_DIR/pki/server.key"),
	S("ca-key-type", STR, ca_key_type, "p256",
	  "CA keys created on first start: p256, p384, rsa2048, rsa3072, rsa4096"),
	S("ca-root", STR, ca_root, NULL,
	  "root certificate (PEM) to import; default: DATA_DIR/pki/root.pem, created if missing"),
	S("ca-cert", STR, ca_cert, NULL,
	  "issuing intermediate (PEM) to import, with --ca-key; default: DATA_DIR/pki/ca.pem"),
	S("ca-key", STR, ca_key, NULL,
	  "its private key (PEM, mode 0600; encrypted with ORCHARD_CA_PASSPHRASE if set)"),
	S("ca-profiles", STR, ca_profiles, NULL,
	  "certificate profile file (docs/pki.md); default: tls-server, device-client, shortlived"),
	S("crl-base-url", STR, crl_base_url, NULL,
	  "http(s)://host[:port][/path] relying parties fetch CRLs from: leaves name"
	  " BASE/pki/crl and AK certificates BASE/attestation/crl; default: none"),
	S("attest-roots", STR, attest_roots, NULL,
	  "external attestation roots (PEM): AK certificates chaining to one are accepted by"
	  " device-attest-01 beside Orchard's attestation CA; default: none"),
	S("jwt-key", STR, jwt_key, NULL,
	  "operator token signing key (PEM, P-256); default: DATA_DIR/keys/operator-jwt.pem"),
	S("log-level", STR, log_level, "info", "debug, info, warn or error"),
	S("threads", NUM, threads, "0", "HTTP worker threads; 0 = four per core"),
	S("db-pool", NUM, db_pool, "0", "PostgreSQL connections in the pool; 0 = one per thread"),
	S("body-limit", NUM, body_limit, "1048576",
	  "largest request body in bytes, on any route (each route has its own, lower cap)"),
	S("body-budget", NUM, body_budget, "167772160",
	  "request body bytes held in memory at once, all requests together (503 beyond)"),
	S("depot-max-module", NUM, depot_max_module, "67108864",
	  "largest module (app.wasm) a depot package may carry, in bytes (docs/depot.md)"),
	S("depot-compiler", STR, depot_compiler, NULL,
	  "orchard-wasm that compiles each published module (docs/depot.md); default: the one"
	  " beside orchardd; \"off\": no compiled forms"),
	S("depot-compile-targets", STR, depot_compile_targets, "host",
	  "targets compiled forms are made for, comma-separated: host, x86_64-linux-gnu, ..."),
	S("depot-compile-level", NUM, depot_compile_level, "2",
	  "optimization level of compiled forms, 0-3 (orchard-wasm compile -ON)"),
	S("conn-timeout", NUM, conn_timeout, "30", "idle connection timeout in seconds"),
	S("conn-memory", NUM, conn_memory, "4096",
	  "bytes of libmicrohttpd's pool per connection: a request's line and headers and its"
	  " response's headers must fit (431 beyond); a waiting connection holds all of it"),
	S("grace", NUM, grace, "10", "seconds to finish in-flight requests on shutdown"),
	S("max-connections", NUM, max_connections, "20000",
	  "open connections at most (RLIMIT_NOFILE is raised to match)"),
	S("max-connections-per-ip", NUM, max_connections_per_ip, "0",
	  "open connections per client address; 0 = no limit (NATed fleets share one)"),
	S("request-deadline", NUM, request_deadline, "30",
	  "seconds for a request's whole header and body; 0 = none"),
	S("db-timeout", NUM, db_timeout, "5",
	  "seconds a database statement or connect may take before a 503"),
	S("id-scope", STR, id_scope, NULL,
	  "DPS ID scope (0ne + 8 hex digits); default: generated on first start, kept in the database"),
	S("dps-hub", STR, dps_hub, NULL,
	  "host name DPS assigns devices to (assignedHub); default: the first listen host"),
	S("dps-linked-hubs", STR, dps_linked_hubs, NULL,
	  "hubs DPS may assign devices to, host[=allocationWeight] comma-separated (hashed"
	  " allocation is weighted); default: the dps-hub alone"),
	S("dps-webhook-timeout", NUM, dps_webhook_timeout, "10",
	  "seconds a custom allocation webhook may take before the registration fails"),
	S("dps-webhook-allow", STR, dps_webhook_allow, NULL,
	  "URL prefixes a custom allocation webhookUrl must start with, comma-separated (a"
	  " prefix naming only scheme://host matches that host alone, any port); default:"
	  " https://, any host"),
	S("dps-cert-proxy", STR, dps_cert_proxy, NULL,
	  "address of a TLS-terminating proxy whose X-Client-Cert header (URL-encoded PEM) is a"
	  " device's certificate; default: none, only TLS client certificates count"),
	S("mqtt-broker", STR, mqtt_broker, NULL,
	  "host:port of the MQTT broker (mosquitto with the Orchard plugin) orchardd serves as"
	  " backend; default: none, no MQTT"),
	S("mqtt-listen", STR, mqtt_listen, NULL,
	  "host:port where orchardd runs its own mosquitto (TLS with its server certificate) and"
	  " restarts it, killed with orchardd; \"off\" or unset: none"),
	S("mqtt-x509-listen", STR, mqtt_x509_listen, NULL,
	  "[host:]port of a second listener of orchardd's own mosquitto, for X.509 devices (TLS"
	  " that requires a client certificate); default: none"),
	S("mqtt-x509-cafile", STR, mqtt_x509_cafile, NULL,
	  "CA certificates (PEM) the X.509 listener trusts; default: Orchard's root"),
	S("mqtt-socket", STR, mqtt_socket, NULL,
	  "Unix socket the broker plugin asks device credentials on; default:"
	  " DATA_DIR/run/mqtt.sock"),
	S("mqtt-user", STR, mqtt_user, "orchardd",
	  "MQTT username of the backend (the plugin's plugin_opt_backend_user)"),
	S("acme-base-url", STR, acme_base_url, NULL,
	  "https://host[:port] every ACME URL starts with; default: the first listen address"),
	S("acme-http-port", NUM, acme_http_port, "80", "port ACME http-01 validations connect to"),
	S("acme-tls-port", NUM, acme_tls_port, "443",
	  "port ACME tls-alpn-01 validations connect to"),
	S("acme-resolver", STR, acme_resolver, NULL,
	  "DNS server (host:port) ACME validations ask; default: the system's"),
	S("acme-eab-required", NUM, acme_eab_required, "0",
	  "1: new ACME accounts need an external account binding"),
	S("acme-orders-per-hour", NUM, acme_orders_per_hour, "300",
	  "new ACME orders per account and hour; 0 = no limit"),
	S("acme-pending-authz-max", NUM, acme_pending_authz_max, "300",
	  "pending ACME authorizations per account; 0 = no limit"),
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

/* ORCHARD_ followed by the upper-cased name, '-' becoming '_'. */
static void setting_env_name(const struct setting *s, char env[64])
{
	size_t k = 8;

	memcpy(env, "ORCHARD_", k);

	for (const char *p = s->name; *p && k < 63; p++)
		env[k++] = *p == '-'		      ? '_'
			   : (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A')
						      : *p; /* digits: x509 */
	env[k] = '\0';
}

void config_print_help(void)
{
	printf("Settings (flag > environment > config file > default):\n\n");
	for (size_t i = 0; i < NSETTINGS; i++) {
		char env[64];
		setting_env_name(&settings[i], env);
		printf("  --%-22s %-30s %s", settings[i].name, env, settings[i].help);
		if (settings[i].def)
			printf(" (default %s)", settings[i].def);
		printf("\n");
	}
	printf("  --%-22s %-30s %s\n", "config", "ORCHARD_CONFIG",
	       "file of 'name = value' lines, names as the flags");
}

static const struct setting *setting_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
			return &settings[i];
	return NULL;
}

/* Sets one value unless a higher-precedence source already did (seen). */
static int setting_apply(struct config *cfg, const struct setting *s, const char *value,
			 unsigned char *seen, const char *source)
{
	size_t idx = (size_t)(s - settings);

	if (seen[idx])
		return 0;
	seen[idx] = 1;
	if (s->kind == STR) {
		char **dst = (char **)((char *)cfg + s->offset);
		free(*dst);
		*dst = strdup(value);
		return *dst ? 0 : -1;
	}
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < 0 || v > INT_MAX) {
		fprintf(stderr, "orchardd: %s: --%s wants a non-negative number, got '%s'\n",
			source, s->name, value);
		return -1;
	}
	*(long *)((char *)cfg + s->offset) = v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int config_read_file(struct config *cfg, const char *path, unsigned char *seen)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int rc = -1, lineno = 0;

	if (f == NULL) {
		fprintf(stderr, "orchardd: config file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *l = trim(line), *eq;
		lineno++;
		if (*l == '\0' || *l == '#')
			continue;
		eq = strchr(l, '=');
		if (eq == NULL)
			goto bad;
		*eq = '\0';
		char *key = trim(l), *val = trim(eq + 1);
		const struct setting *s = setting_find(key, strlen(key));
		if (s == NULL)
			goto bad;
		if (setting_apply(cfg, s, val, seen, path) != 0)
			goto out;
	}
	rc = 0;
	goto out;
bad:
	fprintf(stderr, "orchardd: %s:%d: expected 'name = value' with a known name\n", path,
		lineno);
out:
	fclose(f);
	return rc;
}

int config_load(struct config *cfg, int *argc, char **argv)
{
	unsigned char seen[NSETTINGS] = {0};
	const char *config_file = getenv("ORCHARD_CONFIG");
	int out_argc = 1;

	memset(cfg, 0, sizeof *cfg);
	/* 1. flags, removed from argv so subcommands see only their own. */
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || strcmp(a, "--help") == 0) {
			argv[out_argc++] = argv[i];
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '='), *value;
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct setting *s = setting_find(name, nlen);
		int is_config = nlen == 6 && strncmp(name, "config", 6) == 0;
		if (s == NULL && !is_config) {
			argv[out_argc++] = argv[i]; /* a subcommand's flag */
			continue;
		}
		if (eq)
			value = eq + 1;
		else if (i + 1 < *argc)
			value = argv[++i];
		else {
			fprintf(stderr, "orchardd: --%.*s needs a value\n", (int)nlen, name);
			return -1;
		}
		if (is_config)
			config_file = value;
		else if (setting_apply(cfg, s, value, seen, "flag") != 0)
			return -1;
	}
	*argc = out_argc;
	argv[out_argc] = NULL;
	/* 2. environment */
	for (size_t i = 0; i < NSETTINGS; i++) {
		char env[64];
		setting_env_name(&settings[i], env);
		const char *v = getenv(env);
		if (v != NULL && *v != '\0' && setting_apply(cfg, &settings[i], v, seen, env) != 0)
			return -1;
	}
	/* 3. file, 4. defaults */
	if (config_file != NULL && config_read_file(cfg, config_file, seen) != 0)
		return -1;
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].def != NULL &&
		    setting_apply(cfg, &settings[i], settings[i].def, seen, "default") != 0)
			return -1;
	/* Handlers block on PostgreSQL, so one thread per core leaves the
	 * cores idle while every thread waits for a reply (measured: 42% idle
	 * with 2 threads on 2 cores); four per core keeps them busy. */
	if (cfg->threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->threads = 4 * (n > 0 ? n : 1);
	}
	/* A thread holds at most one connection, so this many never wait. */
	if (cfg->db_pool == 0)
		cfg->db_pool = cfg->threads;
	if (cfg->body_limit == 0 || cfg->body_budget == 0 || cfg->depot_max_module <= 0 ||
	    cfg->depot_max_module > (1L << 30) - DEPOT_OPKG_OVERHEAD) {
		fprintf(stderr,
			"orchardd: --body-limit, --body-budget and --depot-max-module must be "
			"positive (the last below 1 GiB, PostgreSQL's field limit)\n");
		return -1;
	}
	if (cfg->depot_compile_level < 0 || cfg->depot_compile_level > 3) {
		fprintf(stderr, "orchardd: --depot-compile-level is 0 to 3\n");
		return -1;
	}
	/* Below 4 KiB a target at the edge's limits (server/edge.h) could
	 * exhaust the pool while libmicrohttpd splits its query. */
	if (cfg->conn_memory < 4096 || cfg->conn_memory > 1048576) {
		fprintf(stderr, "orchardd: --conn-memory is 4096 to 1048576 bytes\n");
		return -1;
	}
	/* 0 would make libmicrohttpd refuse every connection. */
	if (cfg->max_connections == 0) {
		fprintf(stderr, "orchardd: --max-connections must be positive\n");
		return -1;
	}
	return 0;
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].kind == STR) {
			char **p = (char **)((char *)cfg + settings[i].offset);
			free(*p);
			*p = NULL;
		}
}
