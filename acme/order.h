/* ACME orders' pure parts (RFC 8555 sections 7.1.3-7.1.6, 7.4, 8; RFC 8737,
 * RFC 8738): identifiers and their checks, key authorizations and the
 * challenge types behind one small table. No HTTP, no database; the
 * validators do their own network I/O and are run off request threads. */
#ifndef ORCHARD_ACME_ORDER_H
#define ORCHARD_ACME_ORDER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme/jws.h"

/* Longest identifier value we store: a DNS name (253) with "*.". */
#define ACME_IDENT_MAX 256

enum acme_ident_type {
	ACME_ID_DNS = 1 << 0,
	ACME_ID_IP = 1 << 1,
	ACME_ID_WILDCARD = 1 << 2,
	ACME_ID_PERMID = 1 << 3, /* "permanent-identifier": id["/"assigner-OID] (RFC 4043) */
	ACME_ID_HWMOD = 1 << 4,	 /* "hardware-module": hwSerialNum "/" hwType-OID (RFC 4108) */
};

/* One identifier of an order, checked: value is the name without "*."
 * (wildcard set) or the IP literal. */
struct acme_ident {
	enum acme_ident_type type; /* ACME_ID_DNS, _IP, _PERMID or _HWMOD */
	bool wildcard;
	char value[ACME_IDENT_MAX];
};

/* Checks one {type, value} pair: type "dns" (lowercase LDH labels of 1-63,
 * at most 253 in all, at least two labels, no trailing dot, a last label
 * that is not all digits, "*." only as a whole leftmost label) or "ip" (an
 * IPv4 or IPv6 literal in its canonical inet_ntop form). 0 and *out, or -1
 * with *e: unsupportedIdentifier for another type, rejectedIdentifier for
 * a value we will not issue for. */
int acme_ident_check(const char *type, const char *value, struct acme_ident *out,
		     struct acme_err *e);

/* "dns", "ip", "permanent-identifier" or "hardware-module". */
const char *acme_ident_type_name(enum acme_ident_type t);

/* Where and how a validation looks: filled by the caller from its settings
 * and the challenge row. */
struct acme_chall_target {
	const struct acme_ident *ident;
	const char *token;     /* the challenge token */
	const char *key_authz; /* token "." base64url(account key thumbprint) */
	const char *resolver;  /* "host:port" of the DNS server to ask; NULL: the system's */
	unsigned http_port;    /* http-01: the port to connect to (80) */
	unsigned https_port;   /* http-01: the other port a redirect may name (443) */
	unsigned tls_port;     /* tls-alpn-01: the port to connect to (443) */
	int timeout_s;	       /* per network step */
	/* device-attest-01: the client's attObj (CBOR) and the attestation
	 * roots its AK certificate must chain to (an X509_STORE). */
	const uint8_t *att_obj;
	size_t att_obj_len;
	struct x509_store_st *att_roots;
	const struct x509_st *att_own; /* Orchard's attestation CA, one of att_roots */
	/* device-attest-01 output: the attested key (SubjectPublicKeyInfo DER,
	 * malloc'd, the caller frees) and the AK certificate's serial (hex). */
	uint8_t *attested_spki;
	size_t attested_spki_len;
	uint8_t *ak_spki; /* the AK certificate's key, SPKI DER (malloc'd) */
	size_t ak_spki_len;
	EVP_PKEY *ak_pkey; /* its key (a reference: EVP_PKEY_free) */
	char ak_serial[80];
	bool ak_external; /* the AK certificate chains to an external root, not att_own */
};

/* device-attest-01's quote gate, after the validator passed t: the
 * attObj's "orchardQuote" ({"akPub": TPM2B_PUBLIC, "quoted": TPMS_ATTEST,
 * "sig": TPMT_SIGNATURE, "pcrs": [[TPM hash alg, PCR index, value]...]})
 * must be a quote by the AK of t's AK certificate, qualified with
 * SHA-256(key authorization), whose PCRs satisfy policy (the verifier's
 * PCR policy document, JSON text; event-log rules are not supported here).
 * *verdict (the caller decrefs) says {"policy": name, "passed", "failures":
 * [{"bank", "pcr", "code", "detail"}]}. 0 when it passed, or -1 with *e
 * (badAttestationStatement). */
struct json_t;
int acme_device_attest_quote(const struct acme_chall_target *t, const char *name,
			     const char *policy, struct json_t **verdict, struct acme_err *e);

/* A challenge type: a name, which identifiers it may prove, and its
 * validator. A new type is one file acme/chall_<type>.c defining one of
 * these, and a line in acme/chall.c's table. */
struct acme_chall_type {
	const char *name;
	unsigned idents; /* enum acme_ident_type bits it can prove */
	/* Checks the challenge over the network: 0 when it holds, or -1 with
	 * *e (connection, dns, tls, incorrectResponse, unauthorized). Blocks:
	 * call from a background job only, unless offline. device-attest-01
	 * checks t->att_obj instead (badAttestationStatement). */
	int (*validate)(const struct acme_chall_target *t, struct acme_err *e);
	/* CPU only, no network: checked on the thread of the request that
	 * answers, so the answer carries the outcome. */
	bool offline;
};

extern const struct acme_chall_type acme_chall_http01, acme_chall_dns01, acme_chall_tlsalpn01,
	acme_chall_device_attest;

/* The types offered, in the order they are listed; NULL-terminated. */
extern const struct acme_chall_type *const acme_chall_types[];

/* The type named name, or NULL. */
const struct acme_chall_type *acme_chall_find(const char *name);

/* Whether type may prove ident (wildcards only with a type that says so). */
bool acme_chall_fits(const struct acme_chall_type *type, const struct acme_ident *ident);

/* base64url(SHA-256(key_authz)) into out (44 bytes is enough); -1 on
 * failure. dns-01's TXT value. */
int acme_key_authz_digest_b64(const char *key_authz, char *out, size_t len);

/* The address to connect to for ident: an IP identifier itself, or the
 * name's first A (then AAAA) record from resolver (or the system's
 * resolver when NULL), as text into out. 0, or -1 with *e (dns). */
int acme_resolve_addr(const char *resolver, const struct acme_ident *ident, char *out, size_t len,
		      struct acme_err *e);

/* The TXT records of name from resolver (NULL: the system's), calling
 * found(value, cls) for each until it returns true. 0 when one matched,
 * 1 when none did, -1 with *e when the lookup failed (dns). */
int acme_resolve_txt(const char *resolver, const char *name,
		     bool (*found)(const char *value, size_t len, void *cls), void *cls,
		     struct acme_err *e);

#endif
