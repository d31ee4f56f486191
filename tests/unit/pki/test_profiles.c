/* pki/: what a leaf holds, read back with OpenSSL: each built-in profile's
 * lifetime and usages, and every kind of SAN with the subject it makes. */
#include "tests/unit/pki/pki_test.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, NULL, NULL);
	assert_non_null(ca);
	for (size_t i = 0; i < 3; i++) {
		struct pki_cert c;
		time_t before = time(NULL);
		int days, secs;
		assert_int_equal(pki_test_issue(ca, "p256", want[i].name, &c), PKI_OK);
		time_t after = time(NULL);
		X509 *x = pki_test_der_cert(&c);
		/* Backdated by a minute from the moment of issue, valid for the
		 * profile's lifetime. */
		assert_true(c.not_before >= (long long)before - 60 &&
			    c.not_before <= (long long)after - 60);
		assert_true(c.not_after - c.not_before - 60 - want[i].life <= 2);
		assert_int_equal(pki_profile_lifetime(ca, want[i].name), want[i].life);
		ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
		assert_int_equal((long)days * 86400 + secs, want[i].life + 60);
		assert_int_equal(eku_flags(x), want[i].eku);
		assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
		assert_int_equal(X509_check_ca(x), 0);
		/* A client certificate is no server certificate. */
		assert_int_equal(pki_test_verify(dir, x, ca, NULL, X509_PURPOSE_SSL_SERVER) == 0,
				 (want[i].eku & XKU_SSL_SERVER) != 0);
		assert_int_equal(pki_test_verify(dir, x, ca, NULL, X509_PURPOSE_SSL_CLIENT) == 0,
				 (want[i].eku & XKU_SSL_CLIENT) != 0);
		X509_free(x);
		pki_cert_free(&c);
	}
	assert_int_equal(pki_profile_lifetime(ca, "nope"), -1);
	assert_non_null(pki_profile_describe(ca, "shortlived"));
	pki_ca_free(ca);
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
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, NULL, NULL);
	uint8_t *csr = pki_test_csr_make("p256", &len);
	struct pki_issue_req req = {csr, len, sans, 6, "device-client", NULL, 0, NULL};
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	X509 *x = pki_test_der_cert(&c);
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
	x = pki_test_der_cert(&c);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_sans),
	};

	return pki_test_run("test_profiles", tests, sizeof tests / sizeof tests[0]);
}
