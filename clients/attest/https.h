/* https.h: the one HTTP/1.1 client of all device-side code, on OpenSSL
 * alone (clients/attest/https.c): libattestclient's ACME and attestation
 * calls (acme.c) and the agent's DPS, twin and depot requests
 * (clients/agent/http.c). Not libcurl: docs/agent.md, "Footprint". */
#ifndef ORCHARD_ATTEST_HTTPS_H
#define ORCHARD_ATTEST_HTTPS_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#define OA_HTTPS_BODY_MAX (1u << 20)

/* The answer's status and the headers the ACME, DPS and depot flows read
 * (malloc'd, NULL when absent; repeated Link headers joined by ", "). */
struct oa_https_resp {
	long status;
	char *body; /* NUL-ended, NULL when empty or when a sink took it */
	size_t len;
	char *location, *nonce, *link, *content_type, *etag, *content_range;
	long retry_after; /* seconds (delta or HTTP-date), -1 when absent */
};
void oa_https_resp_free(struct oa_https_resp *r);

/* Where a body goes when not to memory: called with the answer's status
 * and headers already in r; 0, or -1 to abort the transfer. */
typedef int (*oa_https_sink)(void *arg, const struct oa_https_resp *r, const char *p, size_t n);

struct oa_https_req {
	const char *method;  /* "GET", "HEAD", "POST", ... */
	const char *url;     /* http:// or https://, host name or [IPv6] */
	const char *headers; /* more "Name: value\r\n" lines, or NULL */
	const char *body;    /* NULL: none */
	size_t len;
	long timeout_s;	     /* the whole exchange; 0: 30 s */
	const char *ca_file; /* PEM roots to trust; NULL: the system's */
	oa_https_sink sink;  /* NULL: the body into r->body, at most max bytes */
	void *arg;
	size_t max; /* 0: OA_HTTPS_BODY_MAX */
};

/* One exchange on this thread's kept connection to the URL's host (or a
 * new one; a kept connection that fails before any answer byte is
 * replaced once). The host name (or address) is checked against the
 * server's certificate; the client certificate set by
 * oa_https_use_client is presented. 0 with *r filled (any status), or -1
 * on a transport failure with *why a static reason; *r is then empty. */
int oa_https_request(const struct oa_https_req *q, struct oa_https_resp *r, const char **why);

/* Checked during transfers (every 100 ms at most); a non-zero return
 * aborts the transfer (*why is then the string OA_HTTPS_INTERRUPTED; it
 * is not asked again for that transfer). NULL: never. Process-wide. */
#define OA_HTTPS_INTERRUPTED "interrupted"
extern int (*oa_https_interrupt)(void);

/* Mutual TLS for this thread's later requests: chain_pem the client
 * certificate chain (leaf first, NUL-ended; parsed and kept), key the
 * leaf's private key (a reference is taken; a TPM-backed oa_tpm_pkey key
 * needs its TPM open while used). chain_pem or key NULL: no client
 * certificate again. Closes the kept connection. -1 (*why set when why is
 * not NULL) when the PEM does not parse, the leaf is not key's, or memory
 * runs out; nothing changes then. */
int oa_https_use_client(const char *chain_pem, EVP_PKEY *key, const char **why);

/* TLS 1.2 only (on) or TLS 1.2 and 1.3 (off, the default) for this
 * thread's later connections; closes the kept connection. */
void oa_https_tls12(bool on);

/* Closes this thread's kept connection and frees its TLS context and
 * client credentials. */
void oa_https_done(void);

#endif
