/* grants.h: the network capabilities an app was given (--listen, --connect)
 * and the checks every bind, listen, connect and send_to goes through. */
#ifndef ORCHARD_WASM_GRANTS_H
#define ORCHARD_WASM_GRANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GRANTS_MAX 32
#define GRANT_ADDRS_MAX 8

typedef struct grant_listen {
	struct sockaddr_storage addr; /* ss_family 0: any local address */
	uint16_t port;
} grant_listen;

typedef struct grant_connect {
	char host[256];
	uint16_t port;
	uint32_t naddrs;
	struct sockaddr_storage addrs[GRANT_ADDRS_MAX]; /* resolved before the sandbox closes */
} grant_connect;

typedef struct grants {
	grant_listen listen[GRANTS_MAX];
	uint32_t nlisten;
	grant_connect connect[GRANTS_MAX];
	uint32_t nconnect;
} grants;

/* Parses "[ADDR:]PORT" (ADDR an IPv4 or [IPv6] literal). Returns 0 or -1. */
int grants_add_listen(grants *g, const char *spec);
/* Parses "HOST:PORT" and resolves HOST now. Returns 0 or -1 (message in err). */
int grants_add_connect(grants *g, const char *spec, char *err, size_t errlen);
/* May a socket bind to sa? */
bool grants_check_bind(const grants *g, const struct sockaddr *sa);
/* May a socket connect or send to sa? */
bool grants_check_connect(const grants *g, const struct sockaddr *sa);
/* Any network capability at all (the sandbox then allows socket calls)? */
bool grants_any(const grants *g);

#endif
