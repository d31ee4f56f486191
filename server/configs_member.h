/* The `configurations` member of a twin (fleet configurations that apply
 * to it), cheap while the fleet has none. */
#ifndef ORCHARD_CONFIGS_MEMBER_H
#define ORCHARD_CONFIGS_MEMBER_H
#include <jansson.h>

struct server;

/* {"<id>": {"status": "applied"|"targeted"}} for device_id into *out, NULL
 * when there is no configuration at all. 0, or -1 when the store failed. */
int configs_member(struct server *srv, const char *device_id, json_t **out);

/* A configuration changed here (after its commit): look again. */
void configs_member_changed(struct server *srv);

#endif
