/* ACME identifiers (RFC 8555 section 7.1.4, RFC 8738, draft-ietf-acme-
 * device-attest): what a "dns", "ip", "permanent-identifier" or
 * "hardware-module" value must look like before we create an authorization
 * for it. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "acme/order.h"

const char *acme_ident_type_name(enum acme_ident_type t)
{
	return t == ACME_ID_IP	     ? "ip"
	       : t == ACME_ID_PERMID ? "permanent-identifier"
	       : t == ACME_ID_HWMOD  ? "hardware-module"
				     : "dns";
}

static int reject(struct acme_err *e, const char *value, const char *why)
{
	return acme_fail(e, ERR_ACME_REJECTED_IDENTIFIER, "%.80s: %s", value, why);
}

/* Lowercase LDH labels, as section 7.1.4 wants names sent (no uppercase,
 * no U-labels: IDNs come as A-labels "xn--..."). */
static int dns_check(const char *name, struct acme_err *e)
{
	size_t n = strlen(name), label = 0, labels = 1;
	const char *last = name;
	bool digits = true;

	if (n == 0 || n > 253)
		return reject(e, name, "a DNS name has 1 to 253 characters");
	if (name[n - 1] == '.')
		return reject(e, name, "no trailing dot");
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return reject(e, name, "an empty label, or one ending in '-'");
			label = 0;
			labels++;
			last = name + i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return reject(
				e, name,
				"only lowercase letters, digits, '-' and '.' (A-labels for IDNs)");
		if (c == '-' && label == 0)
			return reject(e, name, "a label starts with '-'");
		if (++label > 63)
			return reject(e, name, "a label longer than 63 characters");
	}
	if (name[n - 1] == '-')
		return reject(e, name, "a label ends with '-'");
	if (labels < 2)
		return reject(e, name, "a single-label name");
	for (const char *p = last; *p; p++)
		if (*p < '0' || *p > '9')
			digits = false;
	if (digits)
		return reject(e, name,
			      "the last label is all digits (an IP address is type \"ip\")");
	return 0;
}

static int ip_check(const char *value, struct acme_err *e)
{
	unsigned char addr[16];
	char canon[INET6_ADDRSTRLEN];
	int af = strchr(value, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(af, value, addr) != 1)
		return reject(e, value, "not an IP address");
	if (inet_ntop(af, addr, canon, sizeof canon) == NULL || strcmp(canon, value) != 0)
		return acme_fail(e, ERR_ACME_REJECTED_IDENTIFIER,
				 "%.60s: not in canonical form (%s)", value, canon);
	return 0;
}

/* A dotted OID: two or more arcs of digits, the first 0, 1 or 2. */
static bool oid_ok(const char *s)
{
	size_t arcs = 0, digits = 0;

	if (!(s[0] >= '0' && s[0] <= '2'))
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (digits == 0)
				return false;
			arcs++;
			digits = 0;
		} else if (*s >= '0' && *s <= '9') {
			if (++digits > 9)
				return false;
		} else {
			return false;
		}
	}
	return digits > 0 && arcs >= 1;
}

/* Printable ASCII without spaces: a registration ID or serial as devices
 * name themselves (DPS allows [a-z0-9._:-]); 1 to 128 characters. */
static bool device_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/')
			return false;
	return true;
}

/* "id" or "id/assigner-OID" (permanent-identifier), "serial/hwType-OID"
 * (hardware-module: the OID is required). */
static int device_check(const char *value, bool oid_required, struct acme_err *e)
{
	const char *slash = strchr(value, '/');
	size_t idlen = slash ? (size_t)(slash - value) : strlen(value);

	if (!device_id_ok(value, idlen))
		return reject(e, value,
			      "the identifier is 1 to 128 printable characters, no space");
	if (slash == NULL && oid_required)
		return reject(e, value, "a hardware-module is \"serial/hwType-OID\"");
	if (slash != NULL && !oid_ok(slash + 1))
		return reject(e, value, "what follows '/' must be a dotted OID");
	return 0;
}

int acme_ident_check(const char *type, const char *value, struct acme_ident *out,
		     struct acme_err *e)
{
	memset(out, 0, sizeof *out);
	if (strlen(value) >= sizeof out->value)
		return reject(e, "(long)", "too long");
	if (strcmp(type, "dns") == 0) {
		out->type = ACME_ID_DNS;
		if (strncmp(value, "*.", 2) == 0) {
			out->wildcard = true;
			value += 2;
		}
		if (strchr(value, '*') != NULL)
			return reject(e, value, "'*' only as a whole leftmost label");
		if (dns_check(value, e) != 0)
			return -1;
	} else if (strcmp(type, "ip") == 0) {
		out->type = ACME_ID_IP;
		if (ip_check(value, e) != 0)
			return -1;
	} else if (strcmp(type, "permanent-identifier") == 0) {
		out->type = ACME_ID_PERMID;
		if (device_check(value, false, e) != 0)
			return -1;
	} else if (strcmp(type, "hardware-module") == 0) {
		out->type = ACME_ID_HWMOD;
		if (device_check(value, true, e) != 0)
			return -1;
	} else {
		return acme_fail(e, ERR_ACME_UNSUPPORTED_IDENTIFIER,
				 "identifier type \"%.40s\": only \"dns\", \"ip\", "
				 "\"permanent-identifier\" and \"hardware-module\"",
				 type);
	}
	snprintf(out->value, sizeof out->value, "%s", value);
	return 0;
}
