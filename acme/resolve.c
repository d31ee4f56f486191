/* DNS lookups for validation: A/AAAA to find where to connect and TXT for
 * dns-01, through one configured nameserver (--acme-resolver host:port, as
 * Pebble's -dnsserver) or the system's. libresolv's res_nquery with a
 * private resolver state per call: thread-safe, and the nameserver and
 * port are ours to set, which getaddrinfo does not allow. IPv4 nameservers
 * only for the configured one (glibc keeps IPv6 ones in private fields). */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/order.h"

#define DNS_ANSWER_MAX 8192

/* A resolver state for resolver ("a.b.c.d:port") or the system's. */
static int res_open(res_state st, const char *resolver, struct acme_err *e)
{
	char host[64];
	const char *colon;
	struct in_addr a;
	long port = 53;

	memset(st, 0, sizeof *st);
	if (res_ninit(st) != 0)
		return acme_fail(e, ERR_ACME_DNS, "no DNS resolver configuration");
	st->retrans = 2;
	st->retry = 2;
	if (resolver == NULL)
		return 0;
	colon = strrchr(resolver, ':');
	if (colon != NULL) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port <= 0 || port > 65535)
			port = -1;
	}
	if (port < 0 ||
	    (size_t)((colon ? colon : resolver + strlen(resolver)) - resolver) >= sizeof host) {
		res_nclose(st);
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "--acme-resolver is not ipv4:port");
	}
	snprintf(host, sizeof host, "%.*s",
		 (int)((colon ? colon : resolver + strlen(resolver)) - resolver), resolver);
	if (inet_pton(AF_INET, host, &a) != 1) {
		res_nclose(st);
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "--acme-resolver is not ipv4:port");
	}
	st->nsaddr_list[0].sin_family = AF_INET;
	st->nsaddr_list[0].sin_addr = a;
	st->nsaddr_list[0].sin_port = htons((uint16_t)port);
	st->nscount = 1;
	return 0;
}

/* Queries name/type; the answer's length, 0 when the name or the type has
 * no records, -1 with *e when the lookup failed. */
static int query(res_state st, const char *name, int type, unsigned char *ans, struct acme_err *e)
{
	int n = res_nquery(st, name, ns_c_in, type, ans, DNS_ANSWER_MAX);

	if (n >= 0)
		return n;
	if (st->res_h_errno == HOST_NOT_FOUND || st->res_h_errno == NO_DATA)
		return 0;
	return acme_fail(e, ERR_ACME_DNS, "DNS lookup of %.100s failed (%s)", name,
			 st->res_h_errno == TRY_AGAIN ? "no answer" : "server failure");
}

int acme_resolve_addr(const char *resolver, const struct acme_ident *ident, char *out, size_t len,
		      struct acme_err *e)
{
	static const int types[] = {ns_t_a, ns_t_aaaa};
	struct __res_state st;
	unsigned char *ans;
	int rc = -1;

	if (ident->type == ACME_ID_IP) {
		snprintf(out, len, "%s", ident->value);
		return 0;
	}
	if ((ans = malloc(DNS_ANSWER_MAX)) == NULL)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
	if (res_open(&st, resolver, e) != 0) {
		free(ans);
		return -1;
	}
	for (size_t t = 0; t < 2 && rc != 0; t++) {
		ns_msg msg;
		ns_rr rr;
		int n = query(&st, ident->value, types[t], ans, e);
		if (n < 0)
			goto out;
		if (n == 0 || ns_initparse(ans, n, &msg) != 0)
			continue;
		for (int i = 0; i < ns_msg_count(msg, ns_s_an) && rc != 0; i++) {
			if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 ||
			    (int)ns_rr_type(rr) != types[t])
				continue;
			if (types[t] == ns_t_a && ns_rr_rdlen(rr) == 4 &&
			    inet_ntop(AF_INET, ns_rr_rdata(rr), out, (socklen_t)len) != NULL)
				rc = 0;
			else if (types[t] == ns_t_aaaa && ns_rr_rdlen(rr) == 16 &&
				 inet_ntop(AF_INET6, ns_rr_rdata(rr), out, (socklen_t)len) != NULL)
				rc = 0;
		}
	}
	if (rc != 0)
		acme_fail(e, ERR_ACME_DNS, "no A or AAAA record for %.100s", ident->value);
out:
	res_nclose(&st);
	free(ans);
	return rc;
}

int acme_resolve_txt(const char *resolver, const char *name,
		     bool (*found)(const char *value, size_t len, void *cls), void *cls,
		     struct acme_err *e)
{
	struct __res_state st;
	unsigned char *ans = malloc(DNS_ANSWER_MAX);
	char *txt = malloc(DNS_ANSWER_MAX);
	ns_msg msg;
	ns_rr rr;
	int n, rc = -1;

	if (ans == NULL || txt == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto free;
	}
	if (res_open(&st, resolver, e) != 0)
		goto free;
	if ((n = query(&st, name, ns_t_txt, ans, e)) < 0)
		goto out;
	rc = 1;
	if (n == 0 || ns_initparse(ans, n, &msg) != 0)
		goto out;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && rc == 1; i++) {
		const unsigned char *p, *end;
		size_t k = 0;
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_txt)
			continue;
		/* One record's character-strings, concatenated (RFC 7208 style). */
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		while (p < end && (size_t)(end - p) > *p) {
			memcpy(txt + k, p + 1, *p);
			k += *p;
			p += 1 + *p;
		}
		txt[k] = '\0';
		if (found(txt, k, cls))
			rc = 0;
	}
out:
	res_nclose(&st);
free:
	free(ans);
	free(txt);
	return rc;
}
