/* The device credentials of the twin API (IoT Hub's device side): who is
 * calling /devices/{deviceId}/..., and whether it is that device. */
#ifndef ORCHARD_HUB_AUTH_H
#define ORCHARD_HUB_AUTH_H
#include <openssl/x509.h>
#include <stdbool.h>

#include "common/errors_gen.h"

struct request;
struct server;
struct device;

/* AUTH_DEVICE_HUB: the path's {deviceId} (params[0]) must be the calling
 * device. Two credentials: IoT Hub's device SAS in Authorization,
 * "SharedAccessSignature sr={host}/devices/{deviceId}&sig=...&se=...",
 * signed with the key of the device's DPS registration (an individual
 * enrollment's primary or secondary key, or a symmetric-key group's key
 * derived for the registration ID); or, without Authorization, the TLS
 * client certificate of an X.509 device (CN the registration ID, pinned by
 * its individual enrollment or chaining to its group's signing CA). 401
 * when missing, malformed, expired or not the device's; 403 when it names
 * another device; 404 when no assigned registration has that device ID.
 * Fills req->dev. */
bool hub_device_check(struct request *req, enum err_code *err);

/* The device SAS check itself, for any transport (the HTTPS device API
 * above, the MQTT broker's plugin through server/mqtt_auth.c): authz is
 * "SharedAccessSignature sr=...", device_id the device it must name. 0 and
 * *dev filled, or -1 with *err (401, 403, 404 or 503 codes as above). */
int hub_sas_verify(struct server *srv, const char *authz, const char *device_id, struct device *dev,
		   enum err_code *err);

/* The X.509 check itself, for any transport (the HTTPS device API above,
 * the MQTT plugin's client certificate through server/mqtt_auth.c): chain
 * is the device's certificate first, then what else it presented. 0 and
 * *dev filled, or -1 with *err (401, 403, 404 or 503 codes as above). */
int hub_x509_verify(struct server *srv, STACK_OF(X509) * chain, const char *device_id,
		    struct device *dev, enum err_code *err);

#endif
