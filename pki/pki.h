/* Orchard's certificate authority: a root and an issuing intermediate,
 * certificate profiles, CSR checks and issuance. Pure OpenSSL: no HTTP, no
 * database. The CA's private key stays behind struct pki_signer (signer.h);
 * callers of this header never see an EVP_PKEY. THE contract for ACME
 * finalize, DPS issuance and AK certificates: keep it small and stable. */
#ifndef ORCHARD_PKI_H
#define ORCHARD_PKI_H
#include <stddef.h>
#include <stdint.h>

struct pki_ca;

/* How a CA is opened. Every field may be NULL/0. */
struct pki_ca_config {
	const char *dir;      /* key and certificate folder, "var/pki"; created 0700 */
	const char *key_type; /* keys created on first start: "p256" (default), "p384",
				 "rsa2048", "rsa3072", "rsa4096" */
	/* Import instead of creating: PEM files an operator gives. With
	 * import_cert and import_key set, the intermediate is imported; its
	 * issuer must be import_root (or, when NULL, DIR/root.pem). */
	const char *import_root; /* root certificate */
	const char *import_cert; /* issuing intermediate certificate */
	const char *import_key;	 /* its private key (PEM, may be encrypted with passphrase) */
	const char *passphrase;	 /* encrypts keys the CA writes and decrypts keys it reads; NULL:
				    clear (mode 0600 either way). orchardd takes it from
				    ORCHARD_CA_PASSPHRASE. */
	const char *profiles;	 /* profile file (see docs/pki.md); NULL: built-in profiles */
	/* CRL Distribution Points (RFC 5280 4.2.1.13) written into every leaf
	 * and into every AK certificate: an http:// or https:// URL each, NULL:
	 * no such extension. pki_ca_open() refuses a URL it would not write. */
	const char *crl_url;	 /* the intermediate's CRL */
	const char *att_crl_url; /* the attestation CA's CRL */
};

/* Opens the CA in cfg->dir: reuses root.pem/root.key (the development root
 * devpki makes, so clients keep trusting var/pki/root.pem) and
 * ca.pem/ca.key (the issuing intermediate), creating what is missing under a
 * file lock, or imports the operator's PEM files. Returns NULL after writing
 * why (never key material) into err. */
struct pki_ca *pki_ca_open(const struct pki_ca_config *cfg, char *err, size_t errlen);
void pki_ca_free(struct pki_ca *ca);

/* The chain clients need beyond a leaf: the intermediate then the root, as
 * PEM. Owned by ca, valid until pki_ca_free(). */
const char *pki_ca_chain_pem(const struct pki_ca *ca);
/* The root certificate alone, PEM. Owned by ca. */
const char *pki_ca_root_pem(const struct pki_ca *ca);

/* Names of the configured profiles, NULL-terminated, owned by ca (ACME's
 * directory meta "profiles"); pki_profile_describe() gives a line of text. */
const char *const *pki_ca_profiles(const struct pki_ca *ca);
const char *pki_profile_describe(const struct pki_ca *ca, const char *name);
/* The lifetime in seconds of profile name, or -1 when there is none. */
long pki_profile_lifetime(const struct pki_ca *ca, const char *name);

/* Subject alternative names the caller has validated (ACME identifiers,
 * a DPS registration ID...). pki_issue() never takes names from the CSR. */
enum pki_san_type {
	PKI_SAN_DNS,	      /* value: "host.example" */
	PKI_SAN_IP,	      /* value: "192.0.2.1" or "2001:db8::1" */
	PKI_SAN_URI,	      /* value: "urn:..." or "spiffe://..." */
	PKI_SAN_PERMANENT_ID, /* otherName id-on-permanentIdentifier (RFC 4043): value is the
				 identifier, assigner an optional OID in dotted form */
	PKI_SAN_HW_MODULE,    /* otherName id-on-hardwareModuleName (RFC 4108): assigner is the
				 hwType OID (dotted), value the hwSerialNum as text */
};

struct pki_san {
	enum pki_san_type type;
	const char *value;
	const char *assigner; /* PERMANENT_ID and HW_MODULE only; else NULL */
};

struct pki_csr_info;
struct pki_issue_req {
	const uint8_t *csr_der; /* PKCS#10, DER; its self-signature is checked */
	size_t csr_len;
	const struct pki_san *sans; /* at least one */
	size_t nsans;
	const char *profile; /* "tls-server", "device-client", "shortlived", ... */
	const char *subject; /* CN for the subject; NULL: the first DNS/IP/URI SAN or none */
	long long not_after; /* 0: the profile's lifetime; else at most that (epoch s) */
	/* Optional: pki_csr_inspect()'s result for csr_der. Its request, parsed
	 * and verified there, is used as it is (csr_der is then not read):
	 * finalize parsed every CSR twice, and OpenSSL 3's key decoding is
	 * the costly part of a parse. */
	const struct pki_csr_info *csr;
};

/* An issued certificate. Every pointer owned; pki_cert_free() releases. */
struct pki_cert {
	uint8_t *der; /* the leaf */
	size_t der_len;
	char *chain_pem;      /* leaf then intermediate */
	char serial[33];      /* 128-bit random serial, 32 lower-case hex digits */
	long long not_before; /* epoch seconds (backdated for clock skew) */
	long long not_after;  /* epoch seconds */
	char key_type[16];    /* the leaf key: "p256", "p384", "rsa2048".. "rsa4096", "ed25519" */
	char sans_text[1024]; /* "DNS:a.example, IP:192.0.2.1", for records and logs */
};
void pki_cert_free(struct pki_cert *c);

/* Why pki_issue() refused; the text in why says more for an operator or
 * client (never key material). ACME maps CSR/SIGNATURE to badCSR and
 * KEY_TYPE to badPublicKey. */
enum pki_status {
	PKI_OK = 0,
	PKI_ERR_CSR = -1,	/* not a PKCS#10 DER, or trailing bytes */
	PKI_ERR_SIGNATURE = -2, /* the CSR's self-signature does not verify */
	PKI_ERR_KEY_TYPE = -3,	/* the CSR key is not allowed by the profile */
	PKI_ERR_PROFILE = -4,	/* no such profile */
	PKI_ERR_SAN = -5,	/* no SAN, or one that is malformed */
	PKI_ERR_INTERNAL = -6,	/* our side: allocation, signing */
};

/* Issues a certificate for req under ca. On PKI_OK *out is filled (free
 * with pki_cert_free()); otherwise *out is zeroed and why (may be NULL)
 * holds the reason. Thread-safe: many threads may issue at once. */
enum pki_status pki_issue(struct pki_ca *ca, const struct pki_issue_req *req, struct pki_cert *out,
			  char *why, size_t whylen);

/* AK certificates, signed by the attestation CA (a second intermediate
 * under the root, att.pem beside ca.pem) and by nothing else. An AK has no
 * CSR (a restricted TPM key cannot sign one), so this path takes the public
 * key itself: the caller must have proven that the key lives in the TPM
 * (credential activation) before asking. The profile is fixed: v3, empty
 * subject, not a CA, key usage digitalSignature, EKU tcg-kp-AIKCertificate
 * (2.23.133.8.3), a critical SAN of the TPM directoryName, the EK URI and
 * the permanent identifier. */
#define PKI_AK_PROFILE "attestation-key"
#define PKI_AK_LIFETIME (90L * 86400)

struct pki_ak_req {
	const uint8_t *spki_der; /* the AK's key as SubjectPublicKeyInfo DER: P-256, P-384, RSA */
	size_t spki_len;
	/* The EK certificate's TPM manufacturer/model/version directoryName,
	 * DER of the Name: only attributes 2.23.133.2.1-3 are accepted. NULL:
	 * no such SAN. */
	const uint8_t *tpm_name_der;
	size_t tpm_name_len;
	const char *ek_uri;	  /* "urn:ek:sha256:<base64>" */
	const char *permanent_id; /* the device's registration ID (no assigner) */
	long long not_after;	  /* 0: PKI_AK_LIFETIME; else at most that (epoch s) */
};

/* Issues an AK certificate for req under the attestation CA. As
 * pki_issue(): PKI_OK and *out filled (chain_pem: the leaf then the
 * attestation CA), or *out zeroed and why set: PKI_ERR_PROFILE when this CA
 * has no attestation CA, PKI_ERR_KEY_TYPE, PKI_ERR_SAN, PKI_ERR_INTERNAL. */
enum pki_status pki_issue_ak(struct pki_ca *ca, const struct pki_ak_req *req, struct pki_cert *out,
			     char *why, size_t whylen);

/* The attestation CA's certificate (PEM), NULL when there is none. */
const char *pki_ca_att_pem(const struct pki_ca *ca);

/* What a CSR asks for, for ACME finalize to compare with the order: the
 * names in its subject CN and SAN extension (DNS names lower-cased, IPs in
 * canonical text), its key as SubjectPublicKeyInfo DER (to refuse the
 * account's own key) and the key type. Every pointer owned. */
struct pki_csr_info {
	char **dns; /* lower-case, deduplicated, CN included */
	size_t ndns;
	char **ips; /* "192.0.2.1", "2001:db8::1" */
	size_t nips;
	uint8_t *spki; /* SubjectPublicKeyInfo, DER */
	size_t spki_len;
	char key_type[16];	/* as in struct pki_cert */
	struct pki_csr *parsed; /* the request itself, for pki_issue_req.csr */
};
void pki_csr_info_free(struct pki_csr_info *info);

/* Parses a DER CSR and checks its self-signature. PKI_OK and *out filled
 * (free with pki_csr_info_free()), or PKI_ERR_CSR / PKI_ERR_SIGNATURE /
 * PKI_ERR_SAN (a SAN of another kind than DNS or IP, or a CN that is
 * neither) / PKI_ERR_INTERNAL with *out zeroed and why set. Whether the
 * key type suits a profile is pki_issue()'s to say. */
enum pki_status pki_csr_inspect(const uint8_t *der, size_t len, struct pki_csr_info *out, char *why,
				size_t whylen);

/* 1 when the CSR's public key is key (EVP_PKEY_eq: no encoding), else 0.
 * key is the caller's public key (an ACME account key), never a CA key.
 * Comparing DER instead cost an i2d_PUBKEY, which OpenSSL 3.0 runs through
 * a freshly built encoder chain: 750,000 instructions per finalize, about
 * 6% of orchardd's work per ACME issuance (callgrind, bench/acme.sh). */
struct evp_pkey_st;
int pki_csr_key_equals(const struct pki_csr_info *csr, const struct evp_pkey_st *key);
/* The same question for an EC key known by its group (an OpenSSL name:
 * "prime256v1", "secp384r1") and uncompressed point (0x04 || x || y), as
 * an ACME account key is: answered from the CSR's bytes, without the two
 * point encodings (an inversion each, about 100 K instructions per
 * finalize) of pki_csr_key_equals(). 1 same, 0 different, -1 when the
 * bytes cannot tell (the CSR's point compressed, its curve given by
 * explicit parameters): ask pki_csr_key_equals() then. */
int pki_csr_key_is_ec_point(const struct pki_csr_info *csr, const char *group,
			    const unsigned char *point, size_t len);

/* For ACME revokeCert and ARI: checks that der is a certificate this CA's
 * intermediate signed, and gives its serial (32 hex digits, as pki_issue()
 * wrote it) and, when spki is not NULL, its SubjectPublicKeyInfo DER
 * (malloc'd, caller frees) to compare with the requester's key. Returns 0,
 * or -1 for anything else (not DER, another issuer, a bad signature). */
int pki_cert_inspect(const struct pki_ca *ca, const uint8_t *der, size_t len, char serial[33],
		     uint8_t **spki, size_t *spki_len);

/* For the device credentials of the twin API and MQTT: whether chain[0] is
 * a certificate this CA's issuing intermediate signed (not the attestation
 * CA, not another intermediate), chaining to the root, valid now and for
 * client authentication; then its serial (32 hex digits, as pki_issue()
 * wrote it), its PermanentIdentifier value into pid and its first URI SAN
 * into uri ("" when absent). 0; 1 when the intermediate did not sign the
 * leaf (not ours: the caller may try other credentials); -1 when it did but
 * the certificate does not pass (expired, not for clientAuth, two
 * PermanentIdentifiers...). Revocation is the caller's (the store). */
struct stack_st_X509; /* STACK_OF(X509) */
int pki_device_cert(const struct pki_ca *ca, struct stack_st_X509 *chain, char serial[33],
		    char *pid, size_t pidlen, char *uri, size_t urilen);

/* For ARI (RFC 9773): the issuing intermediate's subject key identifier,
 * which is every leaf's authority key identifier, into out (room for *len
 * bytes; *len set to its length). 0, or -1 when it has none or it does not
 * fit. */
int pki_ca_key_id(const struct pki_ca *ca, uint8_t *out, size_t *len);

/* One revoked certificate for a CRL. reason: RFC 5280 CRLReason code. */
struct pki_revoked {
	const char *serial; /* hex */
	long long revoked_at;
	int reason;
};

/* Builds a DER CRL signed by the intermediate, valid from now until now +
 * next_update seconds, listing revoked[0..n). crl_number must increase
 * between CRLs (the caller uses the time). Returns 0 and a malloc'd *der,
 * or -1. */
int pki_crl(struct pki_ca *ca, const struct pki_revoked *revoked, size_t n, long long crl_number,
	    long next_update, uint8_t **der, size_t *der_len);

/* The same, signed by the attestation CA, for AK certificates; -1 when
 * this CA has none. */
int pki_crl_att(struct pki_ca *ca, const struct pki_revoked *revoked, size_t n,
		long long crl_number, long next_update, uint8_t **der, size_t *der_len);

/* A serial as a user gives it (1 to 32 hex digits in either case, as
 * `openssl x509 -serial` prints it, leading zeros dropped) in Orchard's
 * form: 32 lower-case hex digits. 0, or -1 when it is not one. */
int pki_serial_canonical(const char *in, char out[33]);

/* RFC 5280 reason codes by name ("keyCompromise" -> 1); -1 for unknown or
 * 7 (unused). pki_reason_name() is the inverse (NULL for unknown). */
int pki_reason_parse(const char *name);
const char *pki_reason_name(int code);

#endif
