/* The mosquitto plugin's questions to orchardd about credentials
 * (server/mqtt_auth.h's protocol): one line each way over a kept Unix
 * socket, with a deadline, the next listed orchardd asked when one is down;
 * and what the plugin reads off a credential before it asks. */
#ifndef ORCHARD_MQTT_ASK_H
#define ORCHARD_MQTT_ASK_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define ASK_SOCKETS_MAX 8 /* orchardd credential sockets, asked in turn */
#define FIELD_MAX 4096	  /* a field of the socket protocol, bytes */

struct mosquitto;

/* CLOCK_MONOTONIC in milliseconds: deadlines and the rate limit's buckets. */
static inline long long plugin_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* plugin_opt_socket: one orchardd's socket path or several (one database),
 * space-separated. 0, or -1 for none, over ASK_SOCKETS_MAX or a path too
 * long. */
int plugin_ask_sockets(const char *paths);

/* Asks orchardd "<kind> <name>\n<password>\n"; true when it answers "OK"
 * within 3 s. On a broken connection, a fresh one: to the same orchardd
 * (it may have restarted), then to each other listed socket in turn. */
bool plugin_ask(char kind, const char *name, const char *password);

/* Closes the kept connection (at cleanup). */
void plugin_ask_close(void);

/* Whether s may travel in one line of the socket protocol. */
bool plugin_field_ok(const char *s);

/* When a connection made with SAS password must end: its se plus the
 * skew orchardd accepts (server/dps_sas.h), as IoT Hub closes a connection
 * whose SAS expires; the SDKs renew theirs before. 0: never (no se). */
long long plugin_sas_until(const char *password);

/* The client certificate the broker verified (a listener with
 * require_certificate), as base64 DER for orchardd (malloc'd; NULL: none),
 * its notAfter plus the skew in *until, as a SAS's, and its serial (hex)
 * in serial. */
char *plugin_cert_b64(struct mosquitto *client, long long *until, char *serial, size_t cap);

/* Whether two hex serials name the same number (case and leading zeros
 * aside); b is blen bytes, not NUL-terminated. */
bool plugin_serial_same(const char *a, const char *b, size_t blen);

#endif
