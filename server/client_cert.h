/* TLS client certificates (DPS X.509 devices): the chain a client sent,
 * taken from the GnuTLS session libmicrohttpd runs, and its validation with
 * OpenSSL against what an enrollment pins or trusts. libmicrohttpd asks for
 * a certificate without requiring one and checks nothing: all of that is
 * here, in this one file. */
#ifndef ORCHARD_CLIENT_CERT_H
#define ORCHARD_CLIENT_CERT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>

struct MHD_Connection;

#define CLIENT_CERT_CHAIN_MAX 8
#define CLIENT_CERT_CN_MAX 64 /* a DPS registration ID in a CN */

/* The certificates the client sent, leaf first (NULL when none or not
 * parseable as DER). Free with client_cert_chain_free. */
STACK_OF(X509) * client_cert_chain(struct MHD_Connection *conn);
void client_cert_chain_free(STACK_OF(X509) * chain);

/* Behind a TLS-terminating proxy: the chain in the request's X-Client-Cert
 * header (URL-encoded PEM, one or more certificates, leaf first, as
 * nginx's $ssl_client_escaped_cert), only when the connection comes from
 * the address proxy (numeric, as the setting gives it). NULL otherwise. */
STACK_OF(X509) * client_cert_chain_proxied(struct MHD_Connection *conn, const char *proxy);

/* The leaf's subject CN into cn (CLIENT_CERT_CN_MAX + 1 bytes). 0, or -1
 * when there is not exactly one CN or it is too long. */
int client_cert_cn(X509 *leaf, char *cn, size_t len);

/* Azure's X509CertificateInfo for cert: subjectName, sha1Thumbprint,
 * sha256Thumbprint (upper-case hex), issuerName, notBeforeUtc,
 * notAfterUtc, serialNumber, version. NULL when out of memory. */
json_t *client_cert_info(X509 *cert);

/* Parses one certificate given as PEM or base64 DER (as Azure's service
 * API takes them). NULL when it is neither; X509_free. */
X509 *client_cert_parse_text(const char *text);

/* Whether the leaf is within its validity period now and its SHA-256
 * thumbprint is one of pinned's ({"primary": {"info": {"sha256Thumbprint"}},
 * "secondary": ...}, an individual enrollment's clientCertificates). */
bool client_cert_pinned(X509 *leaf, const json_t *pinned);

/* Whether chain (leaf first, then the intermediates the client sent)
 * verifies now up to one of the signing certificates in signing
 * ({"primary": {"certificate": PEM}, "secondary": ...}, a group's
 * signingCertificates), a root or an intermediate CA. *why says why not. */
bool client_cert_chains(STACK_OF(X509) * chain, const json_t *signing, const char **why);

#endif
