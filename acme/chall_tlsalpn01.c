/* tls-alpn-01 (RFC 8737; RFC 8738 for IP identifiers): a TLS handshake
 * with ALPN "acme-tls/1" and the identifier as SNI (the reverse-DNS name
 * for an IP) must present a certificate whose only SAN is the identifier
 * and which carries the critical acmeIdentifier extension
 * (1.3.6.1.5.5.7.1.31) holding SHA-256 of the key authorization. */
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "acme/order.h"

#define ACME_TLS_OID "1.3.6.1.5.5.7.1.31"

static int tcp_connect(const char *addr, unsigned port, int timeout_s, struct acme_err *e)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
	struct timeval tv = {.tv_sec = timeout_s};
	char p[8];
	int fd;

	snprintf(p, sizeof p, "%u", port);
	if (getaddrinfo(addr, p, &hints, &ai) != 0)
		return acme_fail(e, ERR_ACME_CONNECTION, "bad address %.60s", addr);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Linux bounds a blocking connect() by SO_SNDTIMEO. */
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
			connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return acme_fail(e, ERR_ACME_CONNECTION, "cannot connect to %.60s port %u", addr,
				 port);
	return fd;
}

/* RFC 8738 section 6: the SNI for an IP is its reverse-DNS name. */
static void sni_name(const struct acme_ident *id, char *out, size_t len)
{
	unsigned char a[16];
	size_t k = 0;

	if (id->type != ACME_ID_IP) {
		snprintf(out, len, "%s", id->value);
		return;
	}
	if (inet_pton(AF_INET, id->value, a) == 1) {
		snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return;
	}
	inet_pton(AF_INET6, id->value, a);
	for (int i = 15; i >= 0 && k + 4 < len; i--)
		k += (size_t)snprintf(out + k, len - k, "%x.%x.", a[i] & 0xf, a[i] >> 4);
	snprintf(out + k, len - k, "ip6.arpa");
}

/* The certificate's checks: one SAN equal to the identifier, and the
 * critical extension with exactly DER OCTET STRING(SHA-256(key_authz)). */
static int cert_check(X509 *cert, const struct acme_chall_target *t, struct acme_err *e)
{
	unsigned char want[2 + 32], raw[16];
	unsigned int mdlen = 0;
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_TLS_OID, 1);
	const ASN1_OCTET_STRING *data;
	X509_EXTENSION *ext;
	int idx, rc = -1;

	want[0] = 0x04;
	want[1] = 32;
	if (oid == NULL || EVP_Digest(t->key_authz, strlen(t->key_authz), want + 2, &mdlen,
				      EVP_sha256(), NULL) != 1) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no digest");
		goto out;
	}
	if (sans == NULL || sk_GENERAL_NAME_num(sans) != 1) {
		acme_fail(e, ERR_ACME_UNAUTHORIZED,
			  "the certificate must have exactly one subjectAltName");
		goto out;
	}
	const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, 0);
	if (t->ident->type == ACME_ID_DNS) {
		const unsigned char *d =
			g->type == GEN_DNS ? ASN1_STRING_get0_data(g->d.dNSName) : NULL;
		if (d == NULL ||
		    (size_t)ASN1_STRING_length(g->d.dNSName) != strlen(t->ident->value) ||
		    strncasecmp((const char *)d, t->ident->value, strlen(t->ident->value)) != 0) {
			acme_fail(e, ERR_ACME_UNAUTHORIZED,
				  "the certificate's subjectAltName is not %.100s",
				  t->ident->value);
			goto out;
		}
	} else {
		int af = strchr(t->ident->value, ':') ? AF_INET6 : AF_INET;
		int n = af == AF_INET ? 4 : 16;
		inet_pton(af, t->ident->value, raw);
		if (g->type != GEN_IPADD || ASN1_STRING_length(g->d.iPAddress) != n ||
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), raw, (size_t)n) != 0) {
			acme_fail(e, ERR_ACME_UNAUTHORIZED,
				  "the certificate's subjectAltName is not %.60s", t->ident->value);
			goto out;
		}
	}
	idx = X509_get_ext_by_OBJ(cert, oid, -1);
	if (idx < 0 || X509_get_ext_by_OBJ(cert, oid, idx) >= 0) {
		acme_fail(e, ERR_ACME_UNAUTHORIZED,
			  "the certificate must carry one acmeIdentifier extension");
		goto out;
	}
	ext = X509_get_ext(cert, idx);
	if (!X509_EXTENSION_get_critical(ext)) {
		acme_fail(e, ERR_ACME_UNAUTHORIZED, "the acmeIdentifier extension is not critical");
		goto out;
	}
	data = X509_EXTENSION_get_data(ext);
	if (ASN1_STRING_length(data) != (int)sizeof want ||
	    CRYPTO_memcmp(ASN1_STRING_get0_data(data), want, sizeof want) != 0) {
		acme_fail(
			e, ERR_ACME_INCORRECT_RESPONSE,
			"the acmeIdentifier extension does not hold the key authorization digest");
		goto out;
	}
	rc = 0;
out:
	GENERAL_NAMES_free(sans);
	ASN1_OBJECT_free(oid);
	return rc;
}

static int tlsalpn01_validate(const struct acme_chall_target *t, struct acme_err *e)
{
	static const unsigned char alpn[] = "\x0a"
					    "acme-tls/1";
	char addr[INET6_ADDRSTRLEN], sni[ACME_IDENT_MAX];
	const unsigned char *proto = NULL;
	unsigned int plen = 0;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	int fd = -1, rc = -1;

	if (acme_resolve_addr(t->resolver, t->ident, addr, sizeof addr, e) != 0)
		return -1;
	if ((fd = tcp_connect(addr, t->tls_port, t->timeout_s, e)) < 0)
		return -1;
	sni_name(t->ident, sni, sizeof sni);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL || (ssl = SSL_new(ctx)) == NULL) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "no TLS context");
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1) != 0 ||
	    SSL_set_tlsext_host_name(ssl, sni) != 1 || SSL_set_fd(ssl, fd) != 1) {
		acme_fail(e, ERR_ACME_SERVER_INTERNAL, "cannot set up TLS");
		goto out;
	}
	if (SSL_connect(ssl) != 1) {
		acme_fail(e, ERR_ACME_TLS, "TLS handshake with %.60s port %u failed", addr,
			  t->tls_port);
		goto out;
	}
	SSL_get0_alpn_selected(ssl, &proto, &plen);
	if (plen != 10 || memcmp(proto, "acme-tls/1", 10) != 0) {
		acme_fail(e, ERR_ACME_TLS, "the server did not negotiate acme-tls/1");
		goto out;
	}
	if ((cert = SSL_get1_peer_certificate(ssl)) == NULL) {
		acme_fail(e, ERR_ACME_TLS, "no certificate");
		goto out;
	}
	rc = cert_check(cert, t, e);
out:
	X509_free(cert);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (fd >= 0)
		close(fd);
	return rc;
}

const struct acme_chall_type acme_chall_tlsalpn01 = {
	"tls-alpn-01",
	ACME_ID_DNS | ACME_ID_IP,
	tlsalpn01_validate,
	false,
};
