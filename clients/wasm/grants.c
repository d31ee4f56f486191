/* grants.c: parses --listen and --connect into the network capabilities of
 * an app, and answers "may this socket bind/connect there?". */
#include "clients/wasm/grants.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int port_parse(const char *s, uint16_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 65535 || s[0] == '-' || s[0] == '+')
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port; HOST may be empty
 * when allow_no_host and there is no colon at all. */
static int hostport_split(const char *spec, char *host, size_t hostlen, uint16_t *port,
			  bool allow_no_host)
{
	const char *colon = strrchr(spec, ':');
	if (!colon) {
		if (!allow_no_host)
			return -1;
		host[0] = '\0';
		return port_parse(spec, port);
	}
	const char *h = spec;
	size_t n = (size_t)(colon - spec);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	return port_parse(colon + 1, port);
}

int grants_add_listen(grants *g, const char *spec)
{
	char host[256];
	grant_listen *l;
	if (g->nlisten >= GRANTS_MAX)
		return -1;
	l = &g->listen[g->nlisten];
	memset(l, 0, sizeof(*l));
	if (hostport_split(spec, host, sizeof(host), &l->port, true) < 0)
		return -1;
	if (host[0]) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&l->addr;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&l->addr;
		if (inet_pton(AF_INET, host, &v4->sin_addr) == 1)
			v4->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1)
			v6->sin6_family = AF_INET6;
		else
			return -1; /* a listen address is a literal: we never resolve it */
	}
	g->nlisten++;
	return 0;
}

int grants_add_connect(grants *g, const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	grant_connect *cn;
	int rc = -1;
	if (g->nconnect >= GRANTS_MAX) {
		snprintf(err, errlen, "too many --connect grants");
		goto out;
	}
	cn = &g->connect[g->nconnect];
	memset(cn, 0, sizeof(*cn));
	if (hostport_split(spec, cn->host, sizeof(cn->host), &cn->port, false) < 0) {
		snprintf(err, errlen, "--connect %s: want HOST:PORT", spec);
		goto out;
	}
	int gai = getaddrinfo(cn->host, NULL, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "--connect %s: %s", spec, gai_strerror(gai));
		goto out;
	}
	for (struct addrinfo *ai = res; ai && cn->naddrs < GRANT_ADDRS_MAX; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		memcpy(&cn->addrs[cn->naddrs++], ai->ai_addr, ai->ai_addrlen);
	}
	g->nconnect++;
	rc = 0;
out:
	if (res)
		freeaddrinfo(res);
	return rc;
}

static uint16_t sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

static bool sa_same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

bool grants_check_bind(const grants *g, const struct sockaddr *sa)
{
	uint16_t port = sa_port(sa);
	for (uint32_t i = 0; i < g->nlisten; i++) {
		const grant_listen *l = &g->listen[i];
		if (l->port != port)
			continue;
		if (l->addr.ss_family == 0 || sa_same_addr(sa, &l->addr))
			return true;
	}
	return false;
}

bool grants_check_connect(const grants *g, const struct sockaddr *sa)
{
	uint16_t port = sa_port(sa);
	for (uint32_t i = 0; i < g->nconnect; i++) {
		const grant_connect *cn = &g->connect[i];
		if (cn->port != port)
			continue;
		for (uint32_t j = 0; j < cn->naddrs; j++)
			if (sa_same_addr(sa, &cn->addrs[j]))
				return true;
	}
	return false;
}

bool grants_any(const grants *g)
{
	return g->nlisten > 0 || g->nconnect > 0;
}
