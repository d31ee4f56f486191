/* device-attest-01 issuances per second (bench/device_attest.sh), with the
 * TPM's work done before the clock starts: for every flow, an order, its
 * authorization and a TPM2_Certify over its key authorization (the TPM is
 * slow and serial, and not what is measured). Then, timed, --threads
 * threads each run their accounts' flows one after the other: answer the
 * challenge with the ready attObj, poll the authorization (--poll-ms)
 * unless the answer already says valid,
 * finalize with the TPM-signed CSR made once, download the chain. Prints
 * "flows=N ok=N seconds=S rate=R p50_ms=X p99_ms=Y client_cpu_ms=C" (C: this
 * process's CPU per issuance, timed part). Uses
 * libattestclient (clients/attest) as the device agent would. With
 * --quote-mask M (SHA-256 PCRs, bit i for PCR i) each attObj also carries
 * a TPM2_Quote over them, for the quote gate; --event-log FILE adds that
 * TCG event log to each quote (orchardQuote.eventLog). With --sync it
 * prints "ready" once everything untimed is done and starts the clock only
 * when a line arrives on stdin, so the caller can take its own readings
 * (CPU, transactions) of the timed part alone. */
#include <getopt.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "clients/attest/attest.h"
#include "common/b64.h"
#include "common/file.h"

struct flow {
	struct oa_acme *acct;
	char *authz, *chall, *finalize, *attobj; /* URLs; base64url attObj */
	double ms;
	bool ok;
};

static struct flow *flows;
static struct oa_acme *accts;
static int nflows = 1000, naccts = 64, nthreads = 64, poll_ms = 5;
static uint32_t quote_mask; /* --quote: SHA-256 PCRs 0-23 (a mask) */
static char *csr64;
static struct oa_buf elog; /* --event-log */

/* A copy of the --event-log bytes into q (oa_quote_free frees it). */
static int log_into(struct oa_quote *q)
{
	if (elog.n == 0)
		return 0;
	if ((q->event_log.b = malloc(elog.n)) == NULL)
		return -1;
	memcpy(q->event_log.b, elog.b, elog.n);
	q->event_log.n = elog.n;
	return 0;
}

/* This process's CPU time (user + system), ms. */
static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *str(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s ? strdup(s) : NULL;
}

/* One flow, timed: challenge, authorization valid, finalize, download. */
static bool run_flow(struct flow *f)
{
	char err[OA_ERR_MAX] = "";
	json_t *j = NULL;
	long status = 0;
	bool ok = false;
	char *cert = NULL;
	struct oa_resp r;

	if (oa_acme_post_json(f->acct, f->chall, json_pack("{s:s}", "attObj", f->attobj), &status,
			      &j, NULL, err) != 0 ||
	    status != 200)
		goto out;
	/* The answer carries the outcome when orchardd had it (it checks
	 * device-attest-01 before answering): no poll then. */
	for (int i = 0; i < 2000 &&
			strcmp(json_string_value(json_object_get(j, "status")) ?: "", "valid") != 0;
	     i++) {
		const char *st;
		json_decref(j);
		j = NULL;
		if (oa_acme_post_json(f->acct, f->authz, NULL, &status, &j, NULL, err) != 0)
			goto out;
		st = json_string_value(json_object_get(j, "status"));
		if (st == NULL || strcmp(st, "pending") != 0)
			break;
		struct timespec ts = {0, poll_ms * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (strcmp(json_string_value(json_object_get(j, "status")) ?: "", "valid") != 0) {
		char *t = json_dumps(j, JSON_COMPACT);
		snprintf(err, sizeof err, "authorization not valid: %.200s",
			 t && strstr(t, "detail") ? strstr(t, "detail") : "");
		free(t);
		goto out;
	}
	json_decref(j);
	j = NULL;
	if (oa_acme_post_json(f->acct, f->finalize, json_pack("{s:s}", "csr", csr64), &status, &j,
			      NULL, err) != 0 ||
	    status != 200 || (cert = str(j, "certificate")) == NULL)
		goto out;
	if (oa_acme_post(f->acct, cert, NULL, &r, err) == 0) {
		ok = r.status == 200 && r.body.n > 0;
		oa_resp_free(&r);
	}
out:
	if (!ok && err[0])
		fprintf(stderr, "flow: %s\n", err);
	json_decref(j);
	free(cert);
	return ok;
}

static void *worker(void *cls)
{
	long t = (long)cls;

	for (int i = 0; i < nflows; i++) {
		if ((i % naccts) % nthreads != t)
			continue;
		double t0 = now_ms();
		flows[i].ok = run_flow(&flows[i]);
		flows[i].ms = now_ms() - t0;
	}
	oa_http_done();
	return NULL;
}

/* A count from the command line; -1 for anything else. */
static int num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v >= 0 && v <= 1000000 ? (int)v : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", 1, NULL, 's'},     {"cacert", 1, NULL, 'c'},
		{"tcti", 1, NULL, 't'},	      {"id", 1, NULL, 'i'},
		{"ak-chain", 1, NULL, 'g'},   {"flows", 1, NULL, 'n'},
		{"accounts", 1, NULL, 'a'},   {"threads", 1, NULL, 'T'},
		{"poll-ms", 1, NULL, 'p'},    {"ek-ecc", 0, NULL, 'E'},
		{"quote-mask", 1, NULL, 'Q'}, {"event-log", 1, NULL, 'L'},
		{"sync", 0, NULL, 'S'},	      {NULL, 0, NULL, 0},
	};
	const char *server = NULL, *cacert = NULL, *tcti = getenv("TPM2TOOLS_TCTI"), *id = NULL,
		   *chain_path = NULL;
	bool ek_ecc = false, sync = false;
	char err[OA_ERR_MAX] = "", url[1024];
	struct oa_buf chain[OA_CHAIN_MAX] = {{0}}, ek = {0}, ekc = {0}, ak = {0}, csr = {0};
	size_t nchain = 0, okc = 0;
	struct oa_tpm *tpm;
	pthread_t th[256];
	double t0, c0, secs, *lat;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'c': cacert = optarg; break;
		case 't': tcti = optarg; break;
		case 'i': id = optarg; break;
		case 'g': chain_path = optarg; break;
		case 'n': nflows = num(optarg); break;
		case 'a': naccts = num(optarg); break;
		case 'T': nthreads = num(optarg); break;
		case 'p': poll_ms = num(optarg); break;
		case 'E': ek_ecc = true; break;
		case 'S': sync = true; break;
		case 'Q': quote_mask = (uint32_t)num(optarg); break;
		case 'L': {
			size_t n = 0;
			char *b = file_read(optarg, 1 << 20, &n);
			if (b == NULL)
				return 1;
			elog.b = (uint8_t *)b;
			elog.n = n;
			break;
		}
		default: return 1;
		}
	}
	if (server == NULL || id == NULL || chain_path == NULL || nflows < 1 || naccts < 1 ||
	    poll_ms < 0 || nthreads < 1 || nthreads > 256) {
		fprintf(stderr,
			"usage: device_attest_load --server URL --cacert PEM --id ID "
			"--ak-chain PEM [--flows N --accounts N --threads N --poll-ms N --sync]\n");
		return 1;
	}
	/* Untimed: the AK (the same primary the chain certifies), one key, one
	 * CSR, the accounts, the orders and their evidence. */
	if ((tpm = oa_tpm_open(tcti, err)) == NULL ||
	    oa_tpm_ek(tpm, ek_ecc ? 0x81010016 : 0x81010001, 0, &ek, &ekc, err) != 0 ||
	    oa_tpm_ak_create(tpm, true, &ak, err) != 0 ||
	    oa_chain_load(chain_path, chain, &nchain, err) != 0 ||
	    oa_tpm_key_create(tpm, true, err) != 0 || oa_csr(tpm, NULL, &csr, err) != 0) {
		fprintf(stderr, "device_attest_load: %s\n", err);
		return 1;
	}
	csr64 = b64_encode(csr.b, csr.n, 1);
	accts = calloc((size_t)naccts, sizeof *accts);
	flows = calloc((size_t)nflows, sizeof *flows);
	lat = calloc((size_t)nflows, sizeof *lat);
	snprintf(url, sizeof url, "%s/acme/directory", server);
	for (int i = 0; i < naccts; i++)
		if (oa_acme_account(&accts[i], cacert, url, err) != 0) {
			fprintf(stderr, "device_attest_load: account: %s\n", err);
			return 1;
		}
	for (int i = 0; i < nflows; i++) {
		struct flow *f = &flows[i];
		json_t *o = NULL, *a = NULL, *it;
		struct oa_buf info = {0}, sig = {0}, area = {0}, obj = {0};
		struct oa_quote quote = {0};
		uint8_t qd[32];
		char ka[256];
		long st = 0, alg = 0;
		size_t k;

		f->acct = &accts[i % naccts];
		if (oa_acme_post_json(f->acct, f->acct->new_order,
				      json_pack("{s:[{s:s, s:s}]}", "identifiers", "type",
						"permanent-identifier", "value", id),
				      &st, &o, NULL, err) != 0 ||
		    st != 201) {
			fprintf(stderr, "device_attest_load: order: HTTP %ld %s\n", st, err);
			return 1;
		}
		f->finalize = str(o, "finalize");
		f->authz = strdup(
			json_string_value(json_array_get(json_object_get(o, "authorizations"), 0))
				?: "");
		if (oa_acme_post_json(f->acct, f->authz, NULL, &st, &a, NULL, err) != 0)
			return 1;
		json_array_foreach (json_object_get(a, "challenges"), k, it)
			if (strcmp(json_string_value(json_object_get(it, "type")) ?: "",
				   "device-attest-01") == 0) {
				snprintf(ka, sizeof ka, "%s.%s",
					 json_string_value(json_object_get(it, "token")),
					 f->acct->thumbprint);
				f->chall = str(it, "url");
			}
		EVP_Digest(ka, strlen(ka), qd, NULL, EVP_sha256(), NULL);
		if (f->chall == NULL ||
		    oa_tpm_certify(tpm, qd, 32, &info, &sig, &area, &alg, err) != 0 ||
		    (quote_mask && oa_tpm_quote(tpm, qd, 32, quote_mask, &quote, err) != 0) ||
		    (quote_mask && log_into(&quote) != 0) ||
		    oa_attobj(alg, chain, nchain, &sig, &info, &area, quote_mask ? &quote : NULL,
			      &obj, err) != 0) {
			fprintf(stderr, "device_attest_load: evidence: %s\n", err);
			return 1;
		}
		f->attobj = b64_encode(obj.b, obj.n, 1);
		oa_quote_free(&quote);
		oa_buf_free(&info);
		oa_buf_free(&sig);
		oa_buf_free(&area);
		oa_buf_free(&obj);
		json_decref(o);
		json_decref(a);
	}
	oa_http_done();
	if (sync) {
		char line[16];
		printf("ready\n");
		fflush(stdout);
		if (fgets(line, sizeof line, stdin) == NULL)
			return 1;
	}
	t0 = now_ms();
	c0 = cpu_ms();
	for (long t = 0; t < nthreads; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	secs = (now_ms() - t0) / 1e3;
	c0 = cpu_ms() - c0;
	for (int i = 0; i < nflows; i++)
		if (flows[i].ok)
			lat[okc++] = flows[i].ms;
	qsort(lat, okc, sizeof *lat, cmp);
	printf("flows=%d ok=%zu seconds=%.2f rate=%.1f p50_ms=%.1f p99_ms=%.1f client_cpu_ms=%.2f\n",
	       nflows, okc, secs, (double)okc / secs, okc ? lat[okc / 2] : 0.0,
	       okc ? lat[(okc * 99) / 100] : 0.0, okc ? c0 / (double)okc : 0.0);
	fflush(stdout);
	for (int i = 0; i < nflows; i++) {
		free(flows[i].authz);
		free(flows[i].chall);
		free(flows[i].finalize);
		free(flows[i].attobj);
	}
	for (int i = 0; i < naccts; i++)
		oa_acme_free(&accts[i]);
	for (size_t i = 0; i < nchain; i++)
		oa_buf_free(&chain[i]);
	oa_buf_free(&ek);
	oa_buf_free(&ekc);
	oa_buf_free(&ak);
	oa_buf_free(&csr);
	free(flows);
	free(accts);
	free(lat);
	free(csr64);
	oa_tpm_close(tpm);
	return okc == (size_t)nflows ? 0 : 2;
}
