/* orchardd's settings: one table of names, defaults and help, filled from
 * flags, then ORCHARD_* environment variables, then an optional file. */
#ifndef ORCHARD_CONFIG_H
#define ORCHARD_CONFIG_H
#include <stddef.h>

struct config {
	char *listen;	    /* comma-separated host:port list */
	char *database_url; /* libpq URL; derived from data_dir when unset */
	char *data_dir;
	char *tls_cert;
	char *tls_key;
	char *jwt_key;			  /* operator token signing key (PEM, P-256) */
	char *ca_key_type;		  /* CA keys created on first start */
	char *ca_root, *ca_cert, *ca_key; /* imported CA files; NULL: DATA_DIR/pki */
	char *ca_profiles;		  /* profile file; NULL: built-in */
	char *crl_base_url;		  /* CRL Distribution Points base; NULL: none */
	char *attest_roots;		  /* external attestation roots (PEM); NULL: none */
	char *log_level;
	long threads;
	long db_pool;
	long body_limit;
	long body_budget;
	long depot_max_module;	     /* largest module a package may carry, bytes */
	char *depot_compiler;	     /* orchard-wasm path; NULL: beside orchardd; "off" */
	char *depot_compile_targets; /* comma-separated; "host": the compiler's own */
	long depot_compile_level;    /* -O0..-O3 */
	long conn_timeout;
	long conn_memory;
	long grace;
	long max_connections;
	long max_connections_per_ip;
	long request_deadline;
	long db_timeout;	  /* seconds: deadline of each database statement */
	char *id_scope;		  /* DPS ID scope; NULL: generated once, kept in the database */
	char *dps_hub;		  /* DPS assignedHub; NULL: the first listen host */
	char *dps_linked_hubs;	  /* "host[=weight],..." DPS may assign to; NULL: dps_hub alone */
	long dps_webhook_timeout; /* seconds for a custom allocation webhook */
	char *dps_webhook_allow;  /* webhook URL prefixes, comma-separated; NULL: https:// */
	char *dps_cert_proxy; /* the TLS-terminating proxy's address whose X-Client-Cert counts */
	char *mqtt_broker; /* host:port orchardd connects to as the MQTT backend; NULL: no MQTT */
	char *mqtt_listen; /* host:port of orchardd's own mosquitto; NULL or "off": none */
	char *mqtt_x509_listen; /* [host:]port of its listener for X.509 devices; NULL: none */
	char *mqtt_x509_cafile; /* CAs that listener trusts; NULL: the root (ca-root) */
	char *mqtt_socket; /* the broker plugin's credential socket; NULL: DATA_DIR/run/mqtt.sock */
	char *mqtt_user;   /* the backend's MQTT username */
	char *acme_base_url; /* ACME URLs' base; NULL: https://<first listen host>:<port> */
	char *acme_resolver; /* host:port of the DNS server validations ask; NULL: the system's */
	long acme_http_port; /* port http-01 validations connect to */
	long acme_tls_port;  /* port tls-alpn-01 validations connect to */
	long acme_eab_required;	     /* 1: newAccount needs an externalAccountBinding */
	long acme_orders_per_hour;   /* new orders per account and hour; 0 = no limit */
	long acme_pending_authz_max; /* pending authorizations per account; 0 = no limit */
	int jwt_key_derived;	     /* 1 when jwt_key is the default under data_dir */
	int db_url_derived;	     /* 1 when database_url came from data_dir */
};

/* Fills cfg from argv (flags of the form --name=value or --name value,
 * which are removed from argv; *argc is updated), the environment and the
 * file named by --config / ORCHARD_CONFIG. Returns 0, or -1 after printing
 * the reason to stderr. Free with config_free(). */
int config_load(struct config *cfg, int *argc, char **argv);

void config_free(struct config *cfg);

/* Writes the settings table (flag, variable, default, meaning) to out. */
void config_print_help(void);

#endif
