/* https_proxy.c: the device HTTPS client through an HTTP proxy, as curl
 * reads one from the environment: https_proxy names it, no_proxy exempts
 * hosts, and an https URL goes through a CONNECT tunnel (RFC 9110 9.3.6). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients/attest/https_int.h"
#include "common/b64.h"

#define PROXY_PORT "1080" /* curl's default when the setting names none */
#define PROXY_HEAD_MAX 8192

/* The lower-case variable, else the upper-case one; unset when empty. */
static const char *env_either(const char *lower, const char *upper)
{
	const char *v = getenv(lower);

	if (v == NULL || *v == '\0')
		v = getenv(upper);
	return v && *v ? v : NULL;
}

/* Whether no_proxy exempts host: "*", or an entry that is the host or a
 * domain it is in ("corp.example" and ".corp.example" both cover
 * "hub.corp.example"), without case. */
static bool exempt(const char *host)
{
	const char *list = env_either("no_proxy", "NO_PROXY");
	size_t hl = strlen(host);

	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ",");
		const char *e = p;
		size_t el = n;
		while (el && isspace((unsigned char)*e))
			e++, el--;
		while (el && isspace((unsigned char)e[el - 1]))
			el--;
		if (el && *e == '.')
			e++, el--;
		if ((el == 1 && *e == '*') ||
		    (el && el <= hl && strncasecmp(host + hl - el, e, el) == 0 &&
		     (el == hl || host[hl - el - 1] == '.')))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* %XX decoded in place (a proxy password may hold '@' or ':'): 0, or -1. */
static int pct_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%') {
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]))
				return -1;
			char hex[3] = {s[1], s[2], 0};
			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

int https_proxy_for(const struct url *u, struct url *px, char *auth, size_t authlen)
{
	const char *v = u->tls ? env_either("https_proxy", "HTTPS_PROXY") : NULL;
	char buf[1024], user[512] = "";

	auth[0] = '\0';
	if (v == NULL || exempt(u->host))
		return 0;
	if (strncmp(v, "http://", 7) == 0)
		v += 7;
	else if (strstr(v, "://") != NULL)
		return -1; /* a TLS (https://) or SOCKS proxy: not built */
	const char *at = strchr(v, '@'), *slash = strchr(v, '/');
	if (at && (!slash || at < slash)) {
		if ((size_t)(at - v) >= sizeof user)
			return -1;
		memcpy(user, v, (size_t)(at - v));
		user[at - v] = '\0';
		v = at + 1;
	}
	if (snprintf(buf, sizeof buf, "http://%s", v) >= (int)sizeof buf ||
	    https_url_parse(buf, px) != 0)
		return -1;
	/* No port given: https_url_parse said 80; curl says 1080. */
	const char *hend = v[0] == '[' ? strchr(v, ']') : v;
	if (hend == NULL)
		return -1;
	if (strchr(hend, ':') == NULL || (slash && strchr(hend, ':') > slash))
		snprintf(px->port, sizeof px->port, "%s", PROXY_PORT);
	if (user[0] != '\0') {
		if (pct_decode(user) != 0)
			return -1;
		char *b = b64_encode((const uint8_t *)user, strlen(user), 0);
		int n = b ? snprintf(auth, authlen, "Proxy-Authorization: Basic %s\r\n", b) : -1;
		free(b);
		if (n < 0 || (size_t)n >= authlen)
			return -1;
	}
	return 1;
}

int https_proxy_tunnel(struct conn *c, const struct url *u, const char *auth)
{
	char req[1600], head[PROXY_HEAD_MAX];
	size_t n = 0;
	bool v6 = strchr(u->host, ':') != NULL;
	int len =
		snprintf(req, sizeof req, "CONNECT %s%s%s:%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n%s\r\n",
			 v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, v6 ? "[" : "", u->host,
			 v6 ? "]" : "", u->port, auth);

	if (len < 0 || (size_t)len >= sizeof req || https_conn_write(c, req, (size_t)len) != 0)
		return -1;
	/* Byte by byte up to the blank line: what follows is the server's TLS,
	 * which must not be read here. Once a connection, then kept. */
	while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
		if (n == sizeof head - 1) {
			c->err = "the proxy's answer is too long";
			return -1;
		}
		ssize_t r = https_conn_read(c, head + n, 1);
		if (r <= 0) {
			if (r == 0)
				c->err = "the proxy closed the connection";
			return -1;
		}
		n++;
	}
	head[n] = '\0';
	/* "HTTP/1.x NNN ": the status line, nothing looser. */
	int status = 0;
	if ((strncmp(head, "HTTP/1.0 ", 9) == 0 || strncmp(head, "HTTP/1.1 ", 9) == 0) &&
	    isdigit((unsigned char)head[9]) && isdigit((unsigned char)head[10]) &&
	    isdigit((unsigned char)head[11]) && (head[12] == ' ' || head[12] == '\r'))
		status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
	if (status < 200 || status > 299) {
		c->err = status == 407 ? "the proxy wants authentication (407)"
			 : status      ? "the proxy refused the tunnel"
				       : "the proxy's answer is not HTTP";
		return -1;
	}
	return 0;
}
