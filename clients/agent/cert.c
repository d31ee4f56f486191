/* cert.c: a TPM device's certificate (docs/agent.md "The device
 * certificate"). After provisioning, the agent gets its AK certificate
 * from Orchard's attestation CA and a short-lived device certificate by
 * device-attest-01 for a TLS key the TPM creates (with a quote over every
 * SHA-256 PCR, so a fleet policy, whatever PCRs it names, is answered);
 * from then on its own routes (twin, reported, depot) go over mutual TLS
 * with that key, the SAS staying the fallback while it has no valid
 * certificate. It renews at a random second inside the ARI window
 * (RFC 9773) with `replaces`; a certificate that expired while the device
 * was off is attested again from scratch (a new AK exchange, no
 * replaces); a refusal is reported and retried with backoff while the app
 * keeps running.
 *
 * state_dir/tls/ (0700): tls.pub and tls.priv (the key's blobs, wrapped by
 * the SRK: useless outside this TPM), cert.pem (the chain, leaf first),
 * ak.pem (the AK chain), account.pem (the ACME account key: a renewal's
 * `replaces` must come from the ordering account). All 0600.
 *
 * The TPM is held only while it signs: the key's EVP_PKEY is made once,
 * then the TPM let go (oa_tpm_release), and each TLS handshake (the
 * shared client keeps its connection, so handshakes are rare) opens it,
 * loads the key, signs CertificateVerify and closes it again. A long poll holds no TPM
 * connection. The ACME exchange runs on the same HTTPS client
 * (clients/attest/https.c) without the certificate. */
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "clients/attest/attest.h"
#include "common/log.h"
#include "common/timefmt.h"

#define RETRY_FIRST 5	    /* seconds: a refusal's first retry, doubling */
#define RETRY_MAX 300	    /* at most */
#define QUOTE_ALL 0xffffffu /* SHA-256 PCRs 0-23 */

static struct {
	bool tpm;	     /* a TPM device: certificates at all */
	char dir[4096];	     /* state_dir/tls */
	char *pem;	     /* the certificate in use, NUL-ended; NULL: none */
	long long not_after; /* its expiry (epoch seconds) */
	long long renew_at;  /* when to renew; 0: ask renewalInfo */
	long long retry_at;  /* after a failure: not before */
	int fails;	     /* failures in a row (backoff) */
	bool fresh;	     /* the next order without replaces */
	struct oa_tpm *t;    /* the presented key's (released between signatures) */
} st;

static void path_of(char out[4200], const char *name)
{
	snprintf(out, 4200, "%s/%s", st.dir, name);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4097 > cap) {
			char *nb = realloc(b, cap = cap ? cap * 2 : 8192);
			if (!nb) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, 4096, f);
		n += r;
		if (r < 4096)
			break;
	}
	fclose(f);
	b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

/* Writes path through a temporary file and rename: 0600, whole or not. */
static int write_atomic(const char *path, const void *p, size_t n)
{
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return -1;
	int ok = fchmod(fileno(f), 0600) == 0 && fwrite(p, 1, n, f) == n && fflush(f) == 0 &&
		 fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The leaf's notAfter and serial (hex) from a PEM chain; 0 or -1. */
static int leaf_info(const char *pem, long long *not_after, char serial[80])
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	int rc = -1;
	struct tm tm;
	if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		*not_after = (long long)timegm(&tm);
		rc = 0;
		if (serial) {
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
			char *h = bn ? BN_bn2hex(bn) : NULL;
			snprintf(serial, 80, "%s", h ? h : "");
			for (char *p = serial; *p; p++)
				*p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
			OPENSSL_free(h);
			BN_free(bn);
		}
	}
	X509_free(x);
	return rc;
}

/* Stops presenting the certificate. */
static void unuse(void)
{
	if (!st.t)
		return;
	http_use_client(NULL, NULL);
	oa_tpm_close(st.t);
	st.t = NULL;
}

/* Forgets the certificate in use (and with all, the AK chain: attest
 * from scratch). The key's blobs stay: the next issuance replaces them. */
static void drop(bool all)
{
	char p[4200];
	path_of(p, "cert.pem");
	unlink(p);
	if (all) {
		path_of(p, "ak.pem");
		unlink(p);
	}
	unuse();
	free(st.pem);
	st.pem = NULL;
	st.not_after = 0;
	st.renew_at = 0;
	st.fresh = true;
}

void cert_start(const struct agent_config *c)
{
	st.tpm = c->tcti && !c->symmetric_key;
	if (!st.tpm)
		return;
	snprintf(st.dir, sizeof(st.dir), "%s/tls", c->state_dir);
	if (mkdir(st.dir, 0700) < 0 && errno != EEXIST)
		log_kv(LOG_WARN, "cannot create the certificate folder", "dir", st.dir, NULL);
	char p[4200];
	path_of(p, "cert.pem");
	st.pem = read_all(p, NULL);
	if (st.pem && leaf_info(st.pem, &st.not_after, NULL) < 0) {
		log_kv(LOG_WARN, "the saved certificate does not parse: attesting again", NULL);
		drop(true);
	}
	if (st.pem && st.not_after <= (long long)time(NULL)) {
		log_kv(LOG_WARN, "the certificate expired while the agent was off: attesting again",
		       NULL);
		drop(true);
	}
}

/* reported.certificate, and with attested reported.attestation passed
 * (the fields of an earlier refusal cleared: reported is merge-patched). */
static void report_cert(const struct agent_config *c, const struct agent_identity *id,
			const char *cert_id, bool attested)
{
	char exp[TIMEFMT_RFC3339_LEN], at[TIMEFMT_RFC3339_LEN], ren[TIMEFMT_RFC3339_LEN];
	char serial[80] = "";
	long long na = 0;
	leaf_info(st.pem, &na, serial);
	timefmt_rfc3339(na, exp);
	timefmt_rfc3339((long long)time(NULL), at);
	timefmt_rfc3339(st.renew_at, ren);
	json_t *p = json_pack("{s:{s:s, s:s, s:s, s:s*}}", "certificate", "expires", exp, "serial",
			      serial, "certId", cert_id, "renewAt", st.renew_at ? ren : NULL);
	if (p && attested)
		json_object_set_new(p, "attestation",
				    json_pack("{s:s, s:s, s:n, s:n, s:n}", "verdict", "passed",
					      "at", at, "step", "status", "detail"));
	report(c, id, p);
}

static void backoff(void)
{
	long long b = RETRY_FIRST << (st.fails < 8 ? st.fails : 8);
	b = b > RETRY_MAX ? RETRY_MAX : b;
	st.fails++;
	st.retry_at = (long long)time(NULL) + b / 2 + rand() % (b / 2 + 1);
}

/* Asks renewalInfo where to renew the certificate in use (a the account,
 * or NULL: one is opened). 0 or -1. */
static int ask_window(const struct agent_config *c, struct oa_acme *a, const char *cert_id,
		      char *err)
{
	struct oa_renewal w;
	if (oa_acme_renewal_info(a, cert_id, &w, err) != 0)
		return -1;
	st.renew_at = oa_renewal_pick(&w, (long long)time(NULL));
	char when[32];
	snprintf(when, sizeof(when), "%lld", st.renew_at - (long long)time(NULL));
	log_kv(LOG_INFO, "renewal planned inside the ARI window", "inSeconds", when, NULL);
	(void)c;
	return 0;
}

static int account(const struct agent_config *c, struct oa_acme *a, char *err)
{
	char dirurl[2048], key[4200];
	snprintf(dirurl, sizeof(dirurl), "%s/acme/directory", c->url);
	path_of(key, "account.pem");
	return oa_acme_account_at(a, c->ca_file, dirurl, key, err);
}

/* The AK chain (saved, or from the attestation CA), then the device
 * certificate (replacing cert_id when not NULL). */
static void obtain(const struct agent_config *c, const struct agent_identity *id,
		   const char *cert_id)
{
	char err[OA_ERR_MAX] = "", akp[4200];
	struct oa_outcome res = {0};
	struct oa_buf chain[OA_CHAIN_MAX] = {{0}}, pem = {0}, evlog = {0};
	struct oa_acme a = {0};
	size_t n = 0;
	int rc = OA_FAILED;
	const char *step = "tpm";
	path_of(akp, "ak.pem");
	/* The exchange runs on the agent's own HTTPS client without the
	 * certificate: a handshake signing with it would open the TPM that
	 * t holds here (swtpm takes one connection: a deadlock). */
	unuse();
	log_kv(LOG_INFO,
	       cert_id ? "renewing the device certificate" : "attesting for a device certificate",
	       NULL);
	struct oa_tpm *t = tpm_open(c);
	if (!t) {
		snprintf(err, sizeof(err), "cannot open the TPM");
		goto out;
	}
	struct oa_ak_opts ak = {.server = c->url, .cacert = c->ca_file};
	if (access(akp, R_OK) == 0) {
		rc = oa_flow_ak_load(t, &ak, akp, chain, &n, &res, err);
	} else {
		rc = oa_flow_ak_chain(t, &ak, chain, &n, &res, err);
		if (rc == OA_OK) {
			log_kv(LOG_INFO, "the attestation CA issued the AK certificate", NULL);
			if (oa_chain_save(akp, chain, n, err) != 0 || chmod(akp, 0600) != 0)
				log_kv(LOG_WARN, "cannot save the AK chain", "error", err, NULL);
		}
	}
	if (rc != OA_OK)
		goto out;
	step = "account";
	rc = OA_FAILED;
	if (account(c, &a, err) != 0)
		goto out;
	struct oa_cert_opts co = {.id = id->device_id,
				  .key_dir = st.dir,
				  .replaces = cert_id,
				  .quote_mask = QUOTE_ALL};
	size_t loglen = 0;
	if (c->event_log && (evlog.b = (uint8_t *)read_all(c->event_log, &loglen)) != NULL) {
		evlog.n = loglen;
		co.event_log = &evlog;
	} else if (c->event_log) {
		log_kv(LOG_WARN, "cannot read the event log: the quote goes without it", "file",
		       c->event_log, NULL);
	}
	rc = oa_flow_device_cert(t, &a, &co, chain, n, &pem, &res, err);
	oa_tpm_close(t);
	t = NULL;
	if (rc != OA_OK)
		goto out;
	char cp[4200];
	path_of(cp, "cert.pem");
	step = "save";
	if (write_atomic(cp, pem.b, pem.n) != 0) {
		snprintf(err, sizeof(err), "cannot write cert.pem (disk full?)");
		rc = OA_FAILED;
		goto out;
	}
	unuse(); /* the next request presents the new certificate */
	free(st.pem);
	st.pem = strndup((const char *)pem.b, pem.n);
	leaf_info(st.pem, &st.not_after, NULL);
	st.renew_at = 0;
	st.fails = 0;
	st.retry_at = 0;
	st.fresh = false;
	char *nid = oa_acme_cert_id(&pem, err);
	if (nid && ask_window(c, &a, nid, err) != 0)
		log_kv(LOG_WARN, "renewalInfo unanswered: asking again later", "error", err, NULL);
	log_kv(LOG_INFO, cert_id ? "renewed the device certificate" : "got a device certificate",
	       "certId", nid ? nid : "", NULL);
	report_cert(c, id, nid ? nid : "", true);
	free(nid);
out:
	if (t)
		oa_tpm_close(t);
	if (rc != OA_OK) {
		char at[TIMEFMT_RFC3339_LEN], sc[16];
		const char *s = res.step ? res.step : step;
		const char *detail = json_string_value(json_object_get(res.problem, "detail"));
		timefmt_rfc3339((long long)time(NULL), at);
		snprintf(sc, sizeof(sc), "%ld", res.status);
		backoff();
		char in[32];
		snprintf(in, sizeof(in), "%lld", st.retry_at - (long long)time(NULL));
		log_kv(LOG_WARN, rc == OA_REFUSED ? "attestation refused" : "attestation failed",
		       "step", s, "status", sc, "error", detail ? detail : err, "retryInSeconds",
		       in, NULL);
		/* The next try exchanges the AK again and orders without
		 * replaces: a refusal may come from a stale AK chain, or a
		 * certificate already replaced. */
		unlink(akp);
		st.fresh = true;
		report(c, id,
		       json_pack("{s:{s:s, s:s, s:s, s:I, s:s}}", "attestation", "verdict",
				 rc == OA_REFUSED ? "refused" : "failed", "at", at, "step", s,
				 "status", (json_int_t)res.status, "detail",
				 detail ? detail : err));
	}
	for (size_t i = 0; i < OA_CHAIN_MAX; i++)
		oa_buf_free(&chain[i]);
	oa_buf_free(&pem);
	oa_buf_free(&evlog);
	oa_outcome_free(&res);
	oa_acme_free(&a);
}

int cert_tick(const struct agent_config *c, const struct agent_identity *id)
{
	if (!st.tpm)
		return 3600;
	long long now = (long long)time(NULL);
	if (st.retry_at > now)
		return (int)(st.retry_at - now);
	if (st.pem && st.not_after <= now) {
		log_kv(LOG_WARN, "the device certificate expired: attesting again", NULL);
		drop(true);
	}
	char err[OA_ERR_MAX] = "";
	if (!st.pem) {
		obtain(c, id, NULL);
	} else if (st.renew_at == 0) {
		/* After a start: ask where to renew (the ordering account). */
		struct oa_acme a = {0};
		size_t len = strlen(st.pem);
		struct oa_buf b = {(uint8_t *)st.pem, len};
		char *cid = oa_acme_cert_id(&b, err);
		if (!cid || account(c, &a, err) != 0 || ask_window(c, &a, cid, err) != 0) {
			log_kv(LOG_WARN, "renewalInfo unanswered: asking again later", "error", err,
			       NULL);
			backoff();
		} else {
			st.fails = 0;
			report_cert(c, id, cid, false);
		}
		free(cid);
		oa_acme_free(&a);
	} else if (now >= st.renew_at) {
		size_t len = strlen(st.pem);
		struct oa_buf b = {(uint8_t *)st.pem, len};
		char *cid = st.fresh ? NULL : oa_acme_cert_id(&b, err);
		obtain(c, id, cid);
		free(cid);
	}
	now = (long long)time(NULL);
	long long next = st.retry_at > now   ? st.retry_at
			 : st.renew_at > now ? st.renew_at
					     : now + 1;
	if (st.pem && st.not_after > now && st.not_after < next)
		next = st.not_after;
	return next - now > 3600 ? 3600 : (int)(next - now);
}

bool cert_rejected(void)
{
	if (!st.pem)
		return false;
	log_kv(LOG_WARN, "the hub refused the device certificate: attesting again", NULL);
	drop(true);
	st.retry_at = 0;
	return true;
}

/* Presents st.pem on every later request with its TPM key: the key is
 * loaded once to make the EVP_PKEY, then the TPM let go (oa_tpm_release):
 * each handshake's signature opens it, loads the key, signs and closes it.
 * 0, or -1 (logged). */
static int use(const struct agent_config *c)
{
	char err[OA_ERR_MAX] = "";
	EVP_PKEY *k = NULL;
	if ((st.t = tpm_open(c)) == NULL)
		return -1;
	if (oa_tpm_key_load(st.t, st.dir, err) == 0 && (k = oa_tpm_pkey(st.t, err)) != NULL &&
	    oa_tpm_release(st.t, err) == 0 && http_use_client(st.pem, k) == 0) {
		EVP_PKEY_free(k);
		return 0;
	}
	EVP_PKEY_free(k);
	oa_tpm_close(st.t);
	st.t = NULL;
	/* A key without its certificate (a crash between the two writes),
	 * or one this TPM no longer loads: attest again. */
	log_kv(LOG_WARN, "the certificate's TPM key does not load: attesting again", "error",
	       err[0] ? err : "the certificate is not the key's", NULL);
	drop(true);
	st.retry_at = 0;
	return -1;
}

char *device_auth(const struct agent_config *c, const struct agent_identity *id)
{
	if (st.pem && st.not_after > (long long)time(NULL) && (st.t || use(c) == 0))
		return strdup(""); /* no Authorization: the certificate says who */
	unuse();		   /* an expired certificate is not presented with the SAS */
	return device_sas(c, id);
}

void cert_unpresent(void)
{
	unuse();
}

void cert_cleanup(void)
{
	unuse();
	free(st.pem);
	st.pem = NULL;
}
