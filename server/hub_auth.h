/* The device credentials of the twin API (IoT Hub's device side): who is
 * calling /devices/{deviceId}/..., and whether it is that device. */
#ifndef ORCHARD_HUB_AUTH_H
#define ORCHARD_HUB_AUTH_H
#include <stdbool.h>

#include "common/errors_gen.h"

struct request;
struct server;
struct device;
struct stack_st_X509; /* STACK_OF(X509) */

/* AUTH_DEVICE_HUB: the path's {deviceId} (params[0]) must be the calling
 * device. Two credentials: IoT Hub's device SAS in Authorization,
 * "SharedAccessSignature sr={host}/devices/{deviceId}&sig=...&se=...",
 * signed with the key of the device's DPS registration (an individual
 * enrollment's primary or secondary key, or a symmetric-key group's key
 * derived for the registration ID, or a TPM device's hub key); or, without
 * Authorization, a TLS client certificate (hub_x509_verify()). 401
 * when missing, malformed, expired or not the device's; 403 when it names
 * another device; 404 when no assigned registration has that device ID.
 * Fills req->dev. On a DEVICE_SELF route (the depot's downloads) no path
 * parameter names the device: the credential's own device must prove it.
 */
bool hub_device_check(struct request *req, enum err_code *err);

/* The device SAS check itself, for any transport (the HTTPS device API
 * above, the MQTT broker's plugin through server/mqtt_auth.c): authz is
 * "SharedAccessSignature sr=...", device_id the device it must name. 0 and
 * *dev filled, or -1 with *err (401, 403, 404 or 503 codes as above).
 * device_id NULL: any device, the one the SAS names. */
int hub_sas_verify(struct server *srv, const char *authz, const char *device_id, struct device *dev,
		   enum err_code *err);

/* Which device a TLS client chain (leaf first, as the peer sent it)
 * identifies, for any transport: whether it is device_id. Either a
 * certificate Orchard's issuing CA signed (pki_device_cert(): valid now,
 * clientAuth; recorded and not revoked) whose PermanentIdentifier (or DPS's
 * urn:orchard:dps: URI) is the registration ID of device_id's DPS
 * registration, or one of a DPS X.509 enrollment (CN the registration ID,
 * pinned or chaining to the group's CA). 0 and *dev filled, or -1 with *err:
 * 401 for a chain that proves nothing (no device name, revoked, expired,
 * another CA), 403 for another device's, 404, 503. device_id NULL: the
 * device the chain names (an Orchard certificate: the device whose ID is
 * its registration ID). */
int hub_x509_verify(struct server *srv, struct stack_st_X509 *chain, const char *device_id,
		    struct device *dev, enum err_code *err);

#endif
