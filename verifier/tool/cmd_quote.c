/* orchard-verify quote: verifies tpm2_quote output against an AK public
 * area, a nonce, and optionally a PCR policy, an event log and a previous
 * quote; can sign the appraisal as a JWT. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "verifier/ak.h"
#include "verifier/appraisal.h"
#include "verifier/binding.h"
#include "verifier/eventlog.h"
#include "verifier/nonce_store.h"
#include "verifier/pcr_policy.h"
#include "verifier/quote.h"
#include "verifier/quote_clock.h"
#include "verifier/tpm_attest.h"
#include "verifier/tool/tool.h"

#define MAX_SMALL (64 * 1024)
#define MAX_LOG (16 * 1024 * 1024)

struct quote_args {
	const char *ak, *msg, *sig, *pcrs, *nonce, *store, *policy, *eventlog, *ek_pub, *prev,
		*jwt_key, *device_id;
};

static int parse_args(int argc, char **argv, struct quote_args *a)
{
	static const struct option opts[] = {
		{"ak", required_argument, NULL, 'a'},
		{"msg", required_argument, NULL, 'm'},
		{"sig", required_argument, NULL, 's'},
		{"pcrs", required_argument, NULL, 'p'},
		{"nonce", required_argument, NULL, 'n'},
		{"nonce-store", required_argument, NULL, 'N'},
		{"policy", required_argument, NULL, 'P'},
		{"eventlog", required_argument, NULL, 'l'},
		{"ek-pub", required_argument, NULL, 'e'},
		{"prev", required_argument, NULL, 'r'},
		{"jwt-key", required_argument, NULL, 'j'},
		{"device-id", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': a->ak = optarg; break;
		case 'm': a->msg = optarg; break;
		case 's': a->sig = optarg; break;
		case 'p': a->pcrs = optarg; break;
		case 'n': a->nonce = optarg; break;
		case 'N': a->store = optarg; break;
		case 'P': a->policy = optarg; break;
		case 'l': a->eventlog = optarg; break;
		case 'e': a->ek_pub = optarg; break;
		case 'r': a->prev = optarg; break;
		case 'j': a->jwt_key = optarg; break;
		case 'd': a->device_id = optarg; break;
		default: return -1;
		}
	}
	if (a->ak == NULL || a->msg == NULL || a->sig == NULL || a->pcrs == NULL ||
	    a->nonce == NULL || optind != argc)
		return -1;
	return 0;
}

static int check_prev(const char *path, const struct quote_result *cur, struct verr *e)
{
	TPMS_ATTEST prev;
	enum quote_epoch ep;
	size_t n = 0;
	uint8_t *b = tool_read_file(path, MAX_SMALL, &n, e);
	int rc = -1;

	/* The previous quote was verified when it arrived; here only its
	 * counters matter. */
	if (b == NULL || tpm_attest_parse_quote(b, n, &prev, e) != 0)
		goto out;
	if (quote_clock_compare(&prev, &cur->attest, &ep, e) != 0)
		goto out;
	fprintf(stderr, "orchard-verify: since previous quote: %s\n", quote_epoch_name(ep));
	rc = 0;
out:
	free(b);
	return rc;
}

int cmd_quote(int argc, char **argv)
{
	struct quote_args a;
	struct verr e = {0};
	struct ak_key *ak = NULL;
	struct binding *bind = NULL;
	struct nonce_store *st = NULL;
	struct pcr_policy *pol = NULL;
	struct eventlog *log = NULL;
	struct quote_result *res = NULL;
	struct pcr_set *claimed = NULL;
	struct appraisal ap;
	struct quote_input in;
	TPML_PCR_SELECTION sel;
	uint8_t *akb = NULL, *msg = NULL, *sig = NULL, *pcrs = NULL, *polb = NULL, *logb = NULL,
		*ekb = NULL;
	uint8_t nonce[NONCE_MAX];
	size_t akn = 0, msgn = 0, sign = 0, pcrn = 0, poln = 0, logn = 0, ekn = 0;
	long nl;
	int rc = 1;

	memset(&in, 0, sizeof(in));
	appraisal_init(&ap);
	if (parse_args(argc, argv, &a) != 0) {
		fputs("usage: orchard-verify quote --ak AK.pub --msg QUOTE.msg --sig QUOTE.sig --pcrs QUOTE.pcrs "
		      "--nonce HEX [...]\n",
		      stderr);
		return 2;
	}
	res = calloc(1, sizeof(*res));
	claimed = calloc(1, sizeof(*claimed));
	if (res == NULL || claimed == NULL) {
		verr_set(&e, "internal", "out of memory");
		goto out;
	}
	nl = hex_decode(a.nonce, nonce, sizeof(nonce));
	if (nl <= 0) {
		verr_set(&e, "nonce-format", "--nonce must be 1-%d bytes of hex", NONCE_MAX);
		goto out;
	}
	/* Freshness first: a nonce is spent by any attempt to use it. */
	if (a.store != NULL) {
		st = nonce_store_dir_new(a.store);
		if (st == NULL ||
		    nonce_store_consume(st, nonce, (size_t)nl, (int64_t)time(NULL), &e) != 0) {
			verr_set(&e, "internal", "out of memory");
			goto out;
		}
	}
	if ((akb = tool_read_file(a.ak, MAX_SMALL, &akn, &e)) == NULL ||
	    (msg = tool_read_file(a.msg, MAX_SMALL, &msgn, &e)) == NULL ||
	    (sig = tool_read_file(a.sig, MAX_SMALL, &sign, &e)) == NULL ||
	    (pcrs = tool_read_file(a.pcrs, MAX_SMALL, &pcrn, &e)) == NULL)
		goto out;
	if ((ak = ak_key_new(akb, akn, &e)) == NULL)
		goto out;
	appraisal_pass(&ap, "ak-attributes");
	/* The selection only lays out a "values" PCR file; the digest check
	 * below is what makes the values trustworthy. */
	if (quote_peek_selection(msg, msgn, &sel) != 0)
		memset(&sel, 0, sizeof(sel));
	if (pcr_set_read_tpm2tools(pcrs, pcrn, &sel, claimed, &e) != 0)
		goto out;
	/* With the EK, verify through the binding an activation would have
	 * fixed: the quote's qualifiedSigner must be this AK under this EK. */
	if (a.ek_pub != NULL && ((ekb = tool_read_file(a.ek_pub, MAX_SMALL, &ekn, &e)) == NULL ||
				 (bind = binding_restore(ekb, ekn, akb, akn, &e)) == NULL))
		goto out;
	in.msg = msg;
	in.msg_len = msgn;
	in.sig = sig;
	in.sig_len = sign;
	in.pcrs = claimed;
	in.nonce = nonce;
	in.nonce_len = (size_t)nl;
	if ((bind ? binding_verify_quote(bind, &in, res, &e) : quote_verify(ak, &in, res, &e)) != 0)
		goto out;
	appraisal_pass(&ap, "quote-signature");
	appraisal_pass(&ap, "nonce");
	appraisal_pass(&ap, "pcr-digest");
	if (a.prev != NULL) {
		if (check_prev(a.prev, res, &e) != 0)
			goto out;
		appraisal_pass(&ap, "clock");
	}
	if (a.eventlog != NULL) {
		if ((logb = tool_read_file(a.eventlog, MAX_LOG, &logn, &e)) == NULL ||
		    (log = eventlog_parse(logb, logn, &e)) == NULL ||
		    eventlog_check_quote(log, &res->covered, &e) != 0)
			goto out;
		appraisal_pass(&ap, "eventlog-replay");
	}
	if (a.policy != NULL) {
		if ((polb = tool_read_file(a.policy, 1024 * 1024, &poln, &e)) == NULL ||
		    (pol = pcr_policy_parse((const char *)polb, poln, &e)) == NULL)
			goto out;
		struct pcr_policy_failure f[16];
		size_t nf = 0;
		if (pcr_policy_evaluate_report(pol, &res->covered, log, f, 16, &nf, &e) != 0) {
			/* one line per failing PCR, each with its own reason */
			for (size_t i = 0; i < nf && i < 16; i++)
				fprintf(stderr, "orchard-verify: policy: %s: %s\n", f[i].code,
					f[i].detail);
			goto out;
		}
		appraisal_pass(&ap, "pcr-policy");
	}
	rc = 0;
out:
	/* The appraisal is signed either way: a relying party learns of a
	 * failure, and why, from the same kind of token. */
	if (a.jwt_key != NULL && res != NULL) {
		char *jwt = NULL;
		struct verr je = {0};
		ap.evidence_time = (int64_t)time(NULL);
		ap.verdict = rc == 0 ? "pass" : "fail";
		ap.reason = rc == 0 ? NULL : e.code;
		if (appraisal_sign_file(&ap, a.device_id ? a.device_id : "unknown", a.jwt_key, 3600,
					&jwt, &je) != 0) {
			verr_set(&e, je.code, "%s", je.msg);
			rc = 1;
		} else {
			printf("%s\n", jwt);
		}
		free(jwt);
	}
	if (rc == 0)
		fprintf(stderr,
			"orchard-verify: quote accepted (resetCount %u, restartCount %u, clock %llu, safe %s, "
			"firmware 0x%016llx)\n",
			res->attest.clockInfo.resetCount, res->attest.clockInfo.restartCount,
			(unsigned long long)res->attest.clockInfo.clock,
			res->attest.clockInfo.safe ? "yes" : "no",
			(unsigned long long)res->attest.firmwareVersion);
	else
		tool_reject("quote", &e);
	appraisal_free(&ap);
	pcr_policy_free(pol);
	eventlog_free(log);
	nonce_store_free(st);
	ak_key_free(ak);
	binding_free(bind);
	free(ekb);
	free(res);
	free(claimed);
	free(akb);
	free(msg);
	free(sig);
	free(pcrs);
	free(polb);
	free(logb);
	return rc;
}
