/* orchardd's side of the broker plugin's credential questions
 * (server/mqtt/orchard_mqtt.c): a Unix socket where the plugin asks, one
 * line pair per CONNECT, whether a client may connect:
 *
 *   "D <deviceId>\n<password>\n"  a device: its password is a device SAS,
 *                                 checked by hub_sas_verify(), the HTTPS
 *                                 device API's own check
 *   "B <username>\n<password>\n"  the backend: orchardd's own MQTT client,
 *                                 whose password is the secret every
 *                                 orchardd of the database shares
 *
 * answered "OK\n" or "NO <http status>\n". Keys never leave orchardd and
 * the broker holds no database credential. */
#ifndef ORCHARD_MQTT_AUTH_H
#define ORCHARD_MQTT_AUTH_H

struct server;
struct mqtt_auth;

/* Listens on path (replacing a stale socket; mode 0660) and answers on a
 * thread of its own; backend_user/backend_secret name the backend. NULL
 * on failure, logged. */
struct mqtt_auth *mqtt_auth_start(struct server *srv, const char *path, const char *backend_user,
				  const char *backend_secret);
void mqtt_auth_stop(struct mqtt_auth *a);

#endif
