/* TLS client certificates: the peer chain out of GnuTLS (the only GnuTLS
 * call in orchardd), validated with OpenSSL. */
#include "server/client_cert.h"

#include <ctype.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "common/b64.h"
#include "common/hex.h"

STACK_OF(X509) * client_cert_chain(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *peers;
	unsigned n = 0;
	STACK_OF(X509) *chain = NULL;

	if (ci == NULL || ci->tls_session == NULL)
		return NULL;
	peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (peers == NULL || n == 0 || n > CLIENT_CERT_CHAIN_MAX ||
	    (chain = sk_X509_new_null()) == NULL)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *p = peers[i].data;
		X509 *c = d2i_X509(NULL, &p, (long)peers[i].size);
		if (c == NULL || p != peers[i].data + peers[i].size || !sk_X509_push(chain, c)) {
			X509_free(c);
			client_cert_chain_free(chain);
			ERR_clear_error();
			return NULL;
		}
	}
	return chain;
}

/* Percent-decodes s into a new string ("+" stays); NULL on a bad escape. */
static char *pct_decode(const char *s)
{
	size_t n = strlen(s), j = 0;
	char *out = malloc(n + 1);

	for (size_t i = 0; out != NULL && i < n; i++) {
		if (s[i] != '%') {
			out[j++] = s[i];
			continue;
		}
		if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2])) {
			free(out);
			return NULL;
		}
		char hex[3] = {s[i + 1], s[i + 2], '\0'};
		out[j++] = (char)strtol(hex, NULL, 16);
		i += 2;
	}
	if (out != NULL)
		out[j] = '\0';
	return out;
}

STACK_OF(X509) * client_cert_chain_proxied(struct MHD_Connection *conn, const char *proxy)
{
	const union MHD_ConnectionInfo *ci =
		proxy ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
	const char *h;
	char host[NI_MAXHOST], *pem = NULL;
	socklen_t len;
	STACK_OF(X509) *chain = NULL;
	BIO *bio = NULL;
	X509 *c;

	if (ci == NULL || ci->client_addr == NULL)
		return NULL;
	len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						     : sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0 ||
	    strcmp(host, proxy) != 0)
		return NULL;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Client-Cert");
	if (h == NULL || (pem = pct_decode(h)) == NULL ||
	    (bio = BIO_new_mem_buf(pem, -1)) == NULL || (chain = sk_X509_new_null()) == NULL)
		goto out;
	while (sk_X509_num(chain) < CLIENT_CERT_CHAIN_MAX &&
	       (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(chain, c)) {
			X509_free(c);
			break;
		}
	if (sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		chain = NULL;
	}
out:
	ERR_clear_error();
	BIO_free(bio);
	free(pem);
	return chain;
}

void client_cert_chain_free(STACK_OF(X509) * chain)
{
	sk_X509_pop_free(chain, X509_free);
}

int client_cert_cn(X509 *leaf, char *cn, size_t len)
{
	X509_NAME *name = X509_get_subject_name(leaf);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n;

	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -1;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n <= 0 || (size_t)n >= len || n > CLIENT_CERT_CN_MAX || memchr(utf8, 0, (size_t)n)) {
		OPENSSL_free(utf8);
		return -1;
	}
	memcpy(cn, utf8, (size_t)n);
	cn[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

static void thumbprint(X509 *c, const EVP_MD *md, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	out[0] = '\0';
	if (X509_digest(c, md, d, &n) != 1)
		return;
	hex_encode(d, n, out);
	for (char *p = out; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
}

static json_t *name_text(const X509_NAME *nm)
{
	char buf[512];

	X509_NAME_oneline(nm, buf, sizeof buf);
	return json_string(buf);
}

static json_t *time_text(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return json_null();
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

json_t *client_cert_info(X509 *cert)
{
	char sha1[2 * 20 + 1], sha256[2 * 32 + 1];
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *serial = bn ? BN_bn2hex(bn) : NULL;
	json_t *o;

	thumbprint(cert, EVP_sha1(), sha1);
	thumbprint(cert, EVP_sha256(), sha256);
	o = json_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:s, s:i}", "subjectName",
		      name_text(X509_get_subject_name(cert)), "sha1Thumbprint", sha1,
		      "sha256Thumbprint", sha256, "issuerName",
		      name_text(X509_get_issuer_name(cert)), "notBeforeUtc",
		      time_text(X509_get0_notBefore(cert)), "notAfterUtc",
		      time_text(X509_get0_notAfter(cert)), "serialNumber", serial ? serial : "",
		      "version", (int)X509_get_version(cert) + 1);
	OPENSSL_free(serial);
	BN_free(bn);
	return o;
}

X509 *client_cert_parse_text(const char *text)
{
	BIO *bio;
	X509 *c = NULL;
	uint8_t *der;
	size_t n = 0;

	if (text == NULL)
		return NULL;
	if (strstr(text, "-----BEGIN") != NULL) {
		if ((bio = BIO_new_mem_buf(text, -1)) != NULL)
			c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else if ((der = b64_decode(text, strlen(text), 0, &n)) != NULL) {
		const unsigned char *p = der;
		c = d2i_X509(NULL, &p, (long)n);
		if (c != NULL && p != der + n) {
			X509_free(c);
			c = NULL;
		}
		free(der);
	}
	ERR_clear_error();
	return c;
}

static bool in_validity(X509 *c)
{
	return X509_cmp_current_time(X509_get0_notBefore(c)) < 0 &&
	       X509_cmp_current_time(X509_get0_notAfter(c)) > 0;
}

bool client_cert_pinned(X509 *leaf, const json_t *pinned)
{
	char sha256[2 * 32 + 1];
	const char *slots[] = {"primary", "secondary"};
	bool match = false;

	if (!in_validity(leaf))
		return false;
	thumbprint(leaf, EVP_sha256(), sha256);
	for (int i = 0; i < 2; i++) {
		json_t *info = json_object_get(json_object_get(pinned, slots[i]), "info");
		const char *t = json_string_value(json_object_get(info, "sha256Thumbprint"));
		if (t != NULL && strcmp(t, sha256) == 0)
			match = true;
	}
	return match;
}

bool client_cert_chains(STACK_OF(X509) * chain, const json_t *signing, const char **why)
{
	const char *slots[] = {"primary", "secondary"};
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int anchors = 0, rc = 0;

	*why = "out of memory";
	if (store == NULL || ctx == NULL || untrusted == NULL || sk_X509_num(chain) < 1)
		goto out;
	for (int i = 0; i < 2; i++) {
		X509 *ca = client_cert_parse_text(json_string_value(
			json_object_get(json_object_get(signing, slots[i]), "certificate")));
		if (ca != NULL && X509_STORE_add_cert(store, ca) == 1)
			anchors++;
		X509_free(ca);
	}
	for (int i = 1; i < sk_X509_num(chain); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(chain, i)))
			goto out;
	/* An intermediate CA may be the anchor (Azure's signingCertificates
	 * take either). */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	*why = "the group has no signing certificate";
	if (anchors == 0 ||
	    X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted) != 1)
		goto out;
	rc = X509_verify_cert(ctx);
	if (rc != 1)
		*why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted); /* the certificates belong to chain */
	return rc == 1;
}
