/* pki/: a CA created, reopened, encrypted and imported; issuance for every
 * leaf key type, refusals, profiles read back with OpenSSL, serials, SANs
 * and a CRL that makes OpenSSL refuse the revoked leaf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "pki/pki.h"

static char root_dir[] = "/tmp/orchard-pki-test.XXXXXX";
static int dirs;

/* A new folder under root_dir for one CA. */
static void dir_new(char *out, size_t len)
{
	snprintf(out, len, "%s/ca%d", root_dir, dirs++);
}

static struct pki_ca *ca_open(const char *dir, const char *type, const char *pass)
{
	struct pki_ca_config cfg = {.dir = dir, .key_type = type, .passphrase = pass};
	char err[512];
	struct pki_ca *ca = pki_ca_open(&cfg, err, sizeof err);

	if (ca == NULL)
		print_message("pki_ca_open: %s\n", err);
	return ca;
}

static EVP_PKEY *key_make(const char *type)
{
	if (strcmp(type, "p256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(type, "p384") == 0)
		return EVP_EC_gen("P-384");
	if (strcmp(type, "p521") == 0)
		return EVP_EC_gen("P-521");
	if (strcmp(type, "rsa1024") == 0)
		return EVP_RSA_gen(1024);
	if (strcmp(type, "rsa2048") == 0)
		return EVP_RSA_gen(2048);
	if (strcmp(type, "ed25519") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return NULL;
}

/* A CSR (DER, malloc'd) for a new key of type, signed by that key. */
static uint8_t *csr_make(const char *type, size_t *len)
{
	EVP_PKEY *key = key_make(type);
	X509_REQ *r = X509_REQ_new();
	unsigned char *der = NULL;
	int ed = strcmp(type, "ed25519") == 0;
	int n;

	assert_non_null(key);
	assert_true(X509_REQ_set_pubkey(r, key));
	assert_true(X509_REQ_sign(r, key, ed ? NULL : EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_REQ_free(r);
	EVP_PKEY_free(key);
	uint8_t *out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	return out;
}

static const struct pki_san one_dns[] = {{PKI_SAN_DNS, "device.example", NULL}};

static enum pki_status issue(struct pki_ca *ca, const char *keytype, const char *profile,
			     struct pki_cert *out)
{
	size_t len;
	uint8_t *csr = csr_make(keytype, &len);
	struct pki_issue_req req = {csr, len, one_dns, 1, profile, NULL, 0, NULL};
	char why[256];
	enum pki_status st = pki_issue(ca, &req, out, why, sizeof why);

	free(csr);
	return st;
}

static X509 *der_cert(const struct pki_cert *c)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

	assert_non_null(x);
	return x;
}

/* Verifies x against dir/root.pem with the chain's intermediate and, when
 * crl is set, CRL checking. Returns OpenSSL's verify error (0: valid). */
static int verify(const char *dir, X509 *x, const struct pki_ca *ca, X509_CRL *crl, int purpose)
{
	char path[512];
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pki_ca_chain_pem(ca), -1);
	X509 *inter = PEM_read_bio_X509(b, NULL, NULL, NULL);
	int err;

	snprintf(path, sizeof path, "%s/root.pem", dir);
	assert_int_equal(X509_STORE_load_file(st, path), 1);
	sk_X509_push(chain, inter);
	if (crl != NULL) {
		X509_STORE_add_crl(st, crl);
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	X509_STORE_CTX_init(ctx, st, x, chain);
	if (purpose)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	err = X509_verify_cert(ctx) == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	sk_X509_pop_free(chain, X509_free);
	BIO_free(b);
	return err;
}

static void test_every_key_type(void **state)
{
	char dir[256];
	const char *types[] = {"p256", "p384", "rsa2048", "ed25519"};

	(void)state;
	dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, NULL, NULL);
	assert_non_null(ca);
	for (size_t i = 0; i < 4; i++) {
		struct pki_cert c;
		assert_int_equal(issue(ca, types[i], "tls-server", &c), PKI_OK);
		assert_string_equal(c.key_type, types[i]);
		X509 *x = der_cert(&c);
		assert_int_equal(verify(dir, x, ca, NULL, X509_PURPOSE_SSL_SERVER), 0);
		assert_non_null(strstr(c.chain_pem, "BEGIN CERTIFICATE"));
		assert_string_equal(c.sans_text, "DNS:device.example");
		X509_free(x);
		pki_cert_free(&c);
	}
	pki_ca_free(ca);
}

static void test_refusals(void **state)
{
	char dir[256], why[256], prof[300];
	struct pki_cert c;
	size_t len;
	uint8_t *csr;

	(void)state;
	dir_new(dir, sizeof dir);
	/* A profile that allows P-256 only. */
	snprintf(prof, sizeof prof, "%s.profiles", dir);
	FILE *f = fopen(prof, "w");
	fputs("# test\n\np256only 1h digitalSignature serverAuth p256\n", f);
	fclose(f);
	struct pki_ca_config cfg = {.dir = dir, .profiles = prof};
	struct pki_ca *ca = pki_ca_open(&cfg, why, sizeof why);
	assert_non_null(ca);
	assert_string_equal(pki_ca_profiles(ca)[0], "p256only");
	assert_null(pki_ca_profiles(ca)[1]);
	assert_int_equal(issue(ca, "rsa2048", "p256only", &c), PKI_ERR_KEY_TYPE);
	assert_null(c.der);
	assert_int_equal(issue(ca, "ed25519", "p256only", &c), PKI_ERR_KEY_TYPE);
	assert_int_equal(issue(ca, "p256", "p256only", &c), PKI_OK);
	pki_cert_free(&c);
	assert_int_equal(issue(ca, "p256", "tls-server", &c), PKI_ERR_PROFILE);
	pki_ca_free(ca);

	ca = ca_open(dir, NULL, NULL); /* built-in profiles, same keys */
	assert_non_null(ca);
	assert_int_equal(issue(ca, "p521", "tls-server", &c), PKI_ERR_KEY_TYPE);
	assert_int_equal(issue(ca, "rsa1024", "tls-server", &c), PKI_ERR_KEY_TYPE);

	/* A signature that does not verify: flip a bit near the end. */
	csr = csr_make("p256", &len);
	struct pki_issue_req req = {csr, len, one_dns, 1, "tls-server", NULL, 0, NULL};
	csr[len - 3] ^= 0x01;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_SIGNATURE);
	assert_non_null(strstr(why, "signature"));
	csr[len - 3] ^= 0x01;
	/* Trailing bytes, truncation, garbage. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, csr, len);
	longer[len] = 0;
	req.csr_der = longer;
	req.csr_len = len + 1;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_CSR);
	req.csr_len = len - 1;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_CSR);
	req.csr_der = (const uint8_t *)"garbage";
	req.csr_len = 7;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_CSR);
	free(longer);
	/* SANs: none, a bad DNS name, an IP that is not one. */
	req.csr_der = csr;
	req.csr_len = len;
	req.nsans = 0;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_SAN);
	const struct pki_san bad[][1] = {{{PKI_SAN_DNS, "bad_name.example", NULL}},
					 {{PKI_SAN_DNS, "-a.example", NULL}},
					 {{PKI_SAN_IP, "300.1.1.1", NULL}},
					 {{PKI_SAN_URI, "no scheme", NULL}},
					 {{PKI_SAN_HW_MODULE, "serial", NULL}}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		req.sans = bad[i];
		req.nsans = 1;
		assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_SAN);
	}
	free(csr);
	pki_ca_free(ca);

	/* Bad profile files. */
	const char *bad_files[] = {
		"x 7d digitalSignature serverAuth p256 extra\n",
		"x 0d digitalSignature serverAuth p256\n", "x 7d digitalSignature serverAuth dsa\n",
		"x 7d notAUsage serverAuth p256\n",
		"x 7d digitalSignature serverAuth p256\nx 1h digitalSignature - p256\n"};
	for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
		f = fopen(prof, "w");
		fputs(bad_files[i], f);
		fclose(f);
		assert_null(pki_ca_open(&cfg, why, sizeof why));
	}
}

static long eku_flags(X509 *x)
{
	X509_check_purpose(x, -1, 0);
	return (long)X509_get_extended_key_usage(x);
}

static void test_profiles(void **state)
{
	char dir[256];
	struct {
		const char *name;
		long life;
		long eku;
	} want[] = {{"tls-server", 7 * 86400, XKU_SSL_SERVER},
		    {"device-client", 86400, XKU_SSL_CLIENT},
		    {"shortlived", 6 * 3600, XKU_SSL_SERVER | XKU_SSL_CLIENT}};

	(void)state;
	dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, NULL, NULL);
	assert_non_null(ca);
	for (size_t i = 0; i < 3; i++) {
		struct pki_cert c;
		time_t now = time(NULL);
		int days, secs;
		assert_int_equal(issue(ca, "p256", want[i].name, &c), PKI_OK);
		X509 *x = der_cert(&c);
		/* Backdated by a minute, valid for the profile's lifetime. */
		assert_true(c.not_before <= (long long)now - 60 && c.not_before >= now - 62);
		assert_true(c.not_after - c.not_before - 60 - want[i].life <= 2);
		assert_int_equal(pki_profile_lifetime(ca, want[i].name), want[i].life);
		ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
		assert_int_equal((long)days * 86400 + secs, want[i].life + 60);
		assert_int_equal(eku_flags(x), want[i].eku);
		assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
		assert_int_equal(X509_check_ca(x), 0);
		/* A client certificate is no server certificate. */
		assert_int_equal(verify(dir, x, ca, NULL, X509_PURPOSE_SSL_SERVER) == 0,
				 (want[i].eku & XKU_SSL_SERVER) != 0);
		assert_int_equal(verify(dir, x, ca, NULL, X509_PURPOSE_SSL_CLIENT) == 0,
				 (want[i].eku & XKU_SSL_CLIENT) != 0);
		X509_free(x);
		pki_cert_free(&c);
	}
	assert_int_equal(pki_profile_lifetime(ca, "nope"), -1);
	assert_non_null(pki_profile_describe(ca, "shortlived"));
	pki_ca_free(ca);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_serials(void **state)
{
	enum { N = 300 };
	char dir[256];
	static char serials[N][33];
	size_t len;
	int top_set = 0;

	(void)state;
	dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, NULL, NULL);
	uint8_t *csr = csr_make("p256", &len);
	struct pki_issue_req req = {csr, len, one_dns, 1, "shortlived", NULL, 0, NULL};
	for (int i = 0; i < N; i++) {
		struct pki_cert c;
		assert_int_equal(pki_issue(ca, &req, &c, NULL, 0), PKI_OK);
		assert_int_equal(strlen(c.serial), 32);
		memcpy(serials[i], c.serial, 33);
		top_set += strchr("89abcdef", c.serial[0]) != NULL;
		/* The certificate holds the same 128-bit number. */
		X509 *x = der_cert(&c);
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		char *hex = BN_bn2hex(bn);
		char want[40];
		size_t hl = strlen(hex);
		memset(want, '0', 32 - hl);
		for (size_t k = 0; k <= hl; k++)
			want[32 - hl + k] =
				(char)(hex[k] >= 'A' && hex[k] <= 'F' ? hex[k] + 32 : hex[k]);
		assert_string_equal(want, c.serial);
		assert_true(BN_num_bits(bn) <= 128);
		OPENSSL_free(hex);
		BN_free(bn);
		X509_free(x);
		pki_cert_free(&c);
	}
	qsort(serials, N, 33, cmp_str);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(serials[i - 1], serials[i]);
	/* All 128 bits are random: the top bit is set about half the time. */
	assert_true(top_set > N / 4 && top_set < 3 * N / 4);
	free(csr);
	pki_ca_free(ca);
}

static void test_reopen_passphrase_and_modes(void **state)
{
	char dir[256], path[300], err[256];
	struct stat st;

	(void)state;
	dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, "p384", "correct horse");
	assert_non_null(ca);
	char *chain1 = strdup(pki_ca_chain_pem(ca));
	pki_ca_free(ca);
	const char *keys[] = {"root.key", "ca.key"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, keys[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		char *text = file_read(path, 1 << 20, NULL);
		assert_non_null(strstr(text, "BEGIN ENCRYPTED PRIVATE KEY"));
		free(text);
	}
	snprintf(path, sizeof path, "%s", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Reopened with the passphrase: the same CA; without or wrong: refused. */
	ca = ca_open(dir, NULL, "correct horse");
	assert_non_null(ca);
	assert_string_equal(chain1, pki_ca_chain_pem(ca));
	struct pki_cert c;
	assert_int_equal(issue(ca, "p256", "tls-server", &c), PKI_OK);
	X509 *x = der_cert(&c);
	assert_int_equal(verify(dir, x, ca, NULL, 0), 0);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
	X509_free(x);
	pki_cert_free(&c);
	pki_ca_free(ca);
	struct pki_ca_config cfg = {.dir = dir};
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "ORCHARD_CA_PASSPHRASE"));
	assert_null(strstr(err, "correct horse"));
	cfg.passphrase = "wrong";
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	/* A key others may read is refused. */
	snprintf(path, sizeof path, "%s/ca.key", dir);
	chmod(path, 0644);
	cfg.passphrase = "correct horse";
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "0600"));
	chmod(path, 0600);
	free(chain1);
}

static void test_rsa_ca_and_import(void **state)
{
	char a[256], b[256], root[300], cert[300], key[300], other[300], err[256];

	(void)state;
	dir_new(a, sizeof a);
	struct pki_ca *ca = ca_open(a, "rsa2048", NULL);
	assert_non_null(ca);
	pki_ca_free(ca);
	snprintf(root, sizeof root, "%s/root.pem", a);
	snprintf(cert, sizeof cert, "%s/ca.pem", a);
	snprintf(key, sizeof key, "%s/ca.key", a);
	snprintf(other, sizeof other, "%s/root.key", a);
	dir_new(b, sizeof b);
	struct pki_ca_config cfg = {
		.dir = b, .import_root = root, .import_cert = cert, .import_key = key};
	ca = pki_ca_open(&cfg, err, sizeof err);
	assert_non_null(ca);
	struct pki_cert c;
	assert_int_equal(issue(ca, "p256", "device-client", &c), PKI_OK);
	X509 *x = der_cert(&c);
	assert_int_equal(verify(a, x, ca, NULL, 0), 0);
	assert_int_equal(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
	X509_free(x);
	pki_cert_free(&c);
	pki_ca_free(ca);
	/* The key of another certificate, a certificate alone: refused. */
	cfg.import_key = other;
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "does not match"));
	cfg.import_key = NULL;
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	/* An intermediate under another root: refused. */
	cfg.import_key = key;
	cfg.import_root = NULL; /* b/root.pem, made fresh for b */
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "issued by the root"));
}

static void test_sans(void **state)
{
	char dir[256], why[256];
	size_t len;
	struct pki_cert c;
	const struct pki_san sans[] = {
		{PKI_SAN_DNS, "a.example", NULL},
		{PKI_SAN_IP, "192.0.2.7", NULL},
		{PKI_SAN_IP, "2001:db8::1", NULL},
		{PKI_SAN_URI, "urn:uuid:0b7f2f8e-3b1a-4bd4-a3c9-1f9d4b8f6a11", NULL},
		{PKI_SAN_PERMANENT_ID, "EK-4711", "2.23.133.1.2"},
		{PKI_SAN_HW_MODULE, "SN-0001", "1.3.6.1.4.1.45724.1.1.4"},
	};

	(void)state;
	dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, NULL, NULL);
	uint8_t *csr = csr_make("p256", &len);
	struct pki_issue_req req = {csr, len, sans, 6, "device-client", NULL, 0, NULL};
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	X509 *x = der_cert(&c);
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 6);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 4)->type, GEN_OTHERNAME);
	assert_int_equal(OBJ_obj2nid(sk_GENERAL_NAME_value(gens, 4)->d.otherName->type_id),
			 NID_id_on_permanentIdentifier);
	assert_int_equal(X509_check_host(x, "a.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "2001:db8::1", 0), 1);
	GENERAL_NAMES_free(gens);
	assert_non_null(strstr(c.sans_text, "permanentIdentifier:EK-4711"));
	/* The subject CN is the first name; an explicit one wins. */
	char cn[80];
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	assert_string_equal(cn, "a.example");
	X509_free(x);
	pki_cert_free(&c);
	/* Only an otherName: empty subject, critical SAN. */
	req.sans = &sans[4];
	req.nsans = 1;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	x = der_cert(&c);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	int idx = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
	assert_true(X509_EXTENSION_get_critical(X509_get_ext(x, idx)));
	X509_free(x);
	pki_cert_free(&c);
	/* A notAfter sooner than the profile's is kept. */
	req.not_after = time(NULL) + 600;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	assert_true(c.not_after <= req.not_after && c.not_after >= req.not_after - 1);
	pki_cert_free(&c);
	req.not_after = time(NULL) - 1;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_PROFILE);
	free(csr);
	pki_ca_free(ca);
}

static void test_crl(void **state)
{
	char dir[256];
	struct pki_cert live, dead;
	uint8_t *der;
	size_t len;

	(void)state;
	dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, NULL, NULL);
	assert_int_equal(issue(ca, "p256", "tls-server", &live), PKI_OK);
	assert_int_equal(issue(ca, "p256", "tls-server", &dead), PKI_OK);
	struct pki_revoked r[] = {{dead.serial, time(NULL) - 5, 1}};
	assert_int_equal(pki_crl(ca, r, 1, 42, 3600, &der, &len), 0);
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
	X509 *xl = der_cert(&live), *xd = der_cert(&dead);
	assert_int_equal(verify(dir, xl, ca, crl, 0), 0);
	assert_int_equal(verify(dir, xd, ca, crl, 0), X509_V_ERR_CERT_REVOKED);
	X509_REVOKED *rev = NULL;
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, xd), 1);
	ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
	ASN1_ENUMERATED_free(reason);
	/* pki_cert_inspect: ours gives back its serial and key. */
	char serial[33];
	uint8_t *spki = NULL;
	size_t slen = 0;
	unsigned char *want = NULL;
	int wlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(xl), &want);
	assert_int_equal(pki_cert_inspect(ca, live.der, live.der_len, serial, &spki, &slen), 0);
	assert_string_equal(serial, live.serial);
	assert_int_equal(slen, wlen);
	assert_memory_equal(spki, want, slen);
	free(spki);
	OPENSSL_free(want);
	assert_int_equal(pki_cert_inspect(ca, live.der, live.der_len - 1, serial, NULL, NULL), -1);
	live.der[live.der_len - 5] ^= 1; /* the signature */
	assert_int_equal(pki_cert_inspect(ca, live.der, live.der_len, serial, NULL, NULL), -1);
	live.der[live.der_len - 5] ^= 1;
	/* Another CA's certificate is not ours. */
	char other[256];
	dir_new(other, sizeof other);
	struct pki_ca *ca2 = ca_open(other, NULL, NULL);
	assert_int_equal(pki_cert_inspect(ca2, live.der, live.der_len, serial, NULL, NULL), -1);
	pki_ca_free(ca2);
	X509_free(xl);
	X509_free(xd);
	X509_CRL_free(crl);
	free(der);
	pki_cert_free(&live);
	pki_cert_free(&dead);
	pki_ca_free(ca);
	assert_int_equal(pki_reason_parse("keyCompromise"), 1);
	assert_int_equal(pki_reason_parse("cessationOfOperation"), 5);
	assert_int_equal(pki_reason_parse("bogus"), -1);
	assert_null(pki_reason_name(7));
	assert_string_equal(pki_reason_name(10), "aACompromise");
}

/* A CSR with subject CN cn and the SAN extension sans (openssl's syntax). */
static uint8_t *csr_with_names(EVP_PKEY *key, const char *cn, const char *sans, size_t *len)
{
	X509_REQ *r = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	unsigned char *der = NULL;
	int n;

	assert_true(X509_REQ_set_pubkey(r, key));
	if (cn != NULL)
		assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN",
						       MBSTRING_ASC, (const unsigned char *)cn, -1,
						       -1, 0));
	if (sans != NULL) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
		assert_non_null(e);
		sk_X509_EXTENSION_push(exts, e);
		assert_true(X509_REQ_add_extensions(r, exts));
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	X509_REQ_free(r);
	uint8_t *out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return out;
}

static void test_csr_inspect(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-384");
	struct pki_csr_info info;
	char why[256];
	size_t len;
	unsigned char *spki = NULL;
	int slen = i2d_PUBKEY(key, &spki);

	(void)state;
	uint8_t *csr = csr_with_names(
		key, "Example.COM",
		"DNS:a.example,DNS:example.com,IP:192.0.2.1,IP:2001:db8:0:0:0:0:0:1", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	assert_int_equal(info.ndns, 2); /* the CN repeats a SAN, in another case */
	assert_string_equal(info.dns[0], "a.example");
	assert_string_equal(info.dns[1], "example.com");
	assert_int_equal(info.nips, 2);
	assert_string_equal(info.ips[0], "192.0.2.1");
	assert_string_equal(info.ips[1], "2001:db8::1");
	assert_string_equal(info.key_type, "p384");
	assert_int_equal(info.spki_len, slen);
	assert_memory_equal(info.spki, spki, (size_t)slen);
	pki_csr_info_free(&info);
	/* A bad signature, trailing bytes, an e-mail SAN. */
	csr[len - 3] ^= 1;
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_ERR_SIGNATURE);
	assert_null(info.dns);
	free(csr);
	csr = csr_with_names(key, "192.0.2.9", NULL, &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	assert_int_equal(info.ndns, 0);
	assert_string_equal(info.ips[0], "192.0.2.9");
	/* The CSR's key against others: itself, another P-384 key, a P-256
	 * key, an RSA key, and none. */
	{
		EVP_PKEY *other = EVP_EC_gen("P-384"), *p256 = EVP_EC_gen("P-256"),
			 *rsa = EVP_RSA_gen(2048);
		assert_true(pki_csr_key_equals(&info, key));
		assert_false(pki_csr_key_equals(&info, other));
		assert_false(pki_csr_key_equals(&info, p256));
		assert_false(pki_csr_key_equals(&info, rsa));
		assert_false(pki_csr_key_equals(&info, NULL));
		assert_false(pki_csr_key_equals(NULL, key));
		EVP_PKEY_free(other);
		EVP_PKEY_free(p256);
		EVP_PKEY_free(rsa);
	}
	pki_csr_info_free(&info);
	{ /* an EC point off its curve: no key, so no signature verifies */
		EVP_PKEY *k2 = EVP_EC_gen("P-256");
		unsigned char *pub = NULL;
		int pl = i2d_PUBKEY(k2, &pub);
		uint8_t *bad = csr_with_names(k2, NULL, "DNS:a.example", &len), *at;
		assert_non_null(at = memmem(bad, len, pub, (size_t)pl));
		at[pl - 1] ^= 1; /* the point's last byte */
		assert_int_equal(pki_csr_inspect(bad, len, &info, why, sizeof why),
				 PKI_ERR_SIGNATURE);
		free(bad);
		OPENSSL_free(pub);
		EVP_PKEY_free(k2);
	}
	{ /* an RSA key signing with RSA-PSS */
		EVP_PKEY *rk = EVP_RSA_gen(2048);
		X509_REQ *r = X509_REQ_new();
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		unsigned char *der = NULL;
		int n;
		assert_true(X509_REQ_set_pubkey(r, rk));
		assert_true(
			X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
						   (const unsigned char *)"a.example", -1, -1, 0));
		assert_int_equal(EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, rk), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_true(X509_REQ_sign_ctx(r, md) > 0);
		n = i2d_X509_REQ(r, &der);
		assert_int_equal(pki_csr_inspect(der, (size_t)n, &info, why, sizeof why), PKI_OK);
		assert_string_equal(info.key_type, "rsa2048");
		assert_true(pki_csr_key_equals(&info, rk));
		pki_csr_info_free(&info);
		der[n - 5] ^= 1;
		assert_int_equal(pki_csr_inspect(der, (size_t)n, &info, why, sizeof why),
				 PKI_ERR_SIGNATURE);
		OPENSSL_free(der);
		EVP_MD_CTX_free(md);
		X509_REQ_free(r);
		EVP_PKEY_free(rk);
	}
	{ /* an RSA CSR against its own key and another */
		EVP_PKEY *rk = EVP_RSA_gen(2048), *rk2 = EVP_RSA_gen(2048);
		uint8_t *rc = csr_with_names(rk, NULL, "DNS:a.example", &len);
		assert_int_equal(pki_csr_inspect(rc, len, &info, why, sizeof why), PKI_OK);
		assert_true(pki_csr_key_equals(&info, rk));
		assert_false(pki_csr_key_equals(&info, rk2));
		pki_csr_info_free(&info);
		free(rc);
		EVP_PKEY_free(rk);
		EVP_PKEY_free(rk2);
	}
	assert_int_equal(pki_csr_inspect(csr, len - 1, &info, why, sizeof why), PKI_ERR_CSR);
	free(csr);
	csr = csr_with_names(key, NULL, "DNS:a.example,email:x@a.example", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_ERR_SAN);
	assert_non_null(strstr(why, "other than DNS"));
	free(csr);
	OPENSSL_free(spki);
	EVP_PKEY_free(key);
}

/* pki_issue() takes the request pki_csr_inspect() parsed and verified:
 * csr_der is not read then, and the profile's key rules still apply. */
static void test_issue_inspected(void **state)
{
	char dir[256], why[256];
	size_t len;
	struct pki_cert c;
	struct pki_csr_info info;

	(void)state;
	dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, NULL, NULL);
	uint8_t *csr = csr_make("p256", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	assert_non_null(info.parsed);
	memset(csr, 0, len); /* would not parse: the inspected request is used */
	struct pki_issue_req req = {csr, len, one_dns, 1, "tls-server", NULL, 0, &info};
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	assert_string_equal(c.key_type, "p256");
	X509 *x = der_cert(&c);
	unsigned char *spki = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	assert_int_equal(n, info.spki_len);
	assert_memory_equal(spki, info.spki, info.spki_len);
	OPENSSL_free(spki);
	X509_free(x);
	pki_cert_free(&c);
	/* Twice from one inspection (a retried transaction): two certificates. */
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	pki_cert_free(&c);
	pki_csr_info_free(&info);
	assert_null(info.parsed);
	free(csr);
	/* A key type the profile refuses is refused on this path too. */
	csr = csr_make("p521", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	req = (struct pki_issue_req){NULL, 0, one_dns, 1, "tls-server", NULL, 0, &info};
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_KEY_TYPE);
	assert_null(c.der);
	pki_csr_info_free(&info);
	free(csr);
	pki_ca_free(ca);
}

enum { THREADS = 4, PER_THREAD = 50 };
static struct pki_ca *shared_ca;
static char thread_serials[THREADS * PER_THREAD][33];

static void *issue_thread(void *arg)
{
	long t = (long)arg;
	size_t len;
	uint8_t *csr = csr_make(t % 2 ? "p256" : "ed25519", &len);
	struct pki_issue_req req = {csr, len, one_dns, 1, "shortlived", NULL, 0, NULL};

	for (int i = 0; i < PER_THREAD; i++) {
		struct pki_cert c;
		if (pki_issue(shared_ca, &req, &c, NULL, 0) != PKI_OK)
			break;
		memcpy(thread_serials[t * PER_THREAD + i], c.serial, 33);
		pki_cert_free(&c);
	}
	free(csr);
	return NULL;
}

/* pki_issue() is called from every HTTP worker at once. */
static void test_threads(void **state)
{
	char dir[256];
	pthread_t th[THREADS];

	(void)state;
	dir_new(dir, sizeof dir);
	shared_ca = ca_open(dir, NULL, NULL);
	assert_non_null(shared_ca);
	for (long t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, issue_thread, (void *)t), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	qsort(thread_serials, THREADS * PER_THREAD, 33, cmp_str);
	for (int i = 0; i < THREADS * PER_THREAD; i++) {
		assert_int_equal(strlen(thread_serials[i]), 32);
		if (i > 0)
			assert_string_not_equal(thread_serials[i - 1], thread_serials[i]);
	}
	pki_ca_free(shared_ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_type),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_serials),
		cmocka_unit_test(test_reopen_passphrase_and_modes),
		cmocka_unit_test(test_rsa_ca_and_import),
		cmocka_unit_test(test_sans),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_csr_inspect),
		cmocka_unit_test(test_issue_inspected),
		cmocka_unit_test(test_threads),
	};
	int rc;

	if (mkdtemp(root_dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root_dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
