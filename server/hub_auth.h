/* The device credentials of the twin API (IoT Hub's device side): who is
 * calling /devices/{deviceId}/..., and whether it is that device. */
#ifndef ORCHARD_HUB_AUTH_H
#define ORCHARD_HUB_AUTH_H
#include <stdbool.h>

#include "common/errors_gen.h"

struct request;

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

#endif
