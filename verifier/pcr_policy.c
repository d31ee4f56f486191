/* PCR policy documents (jansson) and their evaluation against quoted PCRs
 * and replayed event logs, with one reason per failing PCR. */
#include "verifier/pcr_policy.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "verifier/tpm_alg.h"

static int parse_pcr_index(const char *key, unsigned *pcr)
{
	char *end;
	long v;

	if (key[0] < '0' || key[0] > '9')
		return -1;
	errno = 0;
	v = strtol(key, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v >= PCR_COUNT ||
	    (key[0] == '0' && key[1] != '\0'))
		return -1;
	*pcr = (unsigned)v;
	return 0;
}

/* Parses {"sha256": {"7": ["hex", ...]}} into a rule array. */
static int parse_rules(json_t *banks, struct pcr_policy_rule **out, size_t *nout, struct verr *e)
{
	const char *bname, *pname;
	json_t *pcrs, *vals, *v;
	size_t idx;

	if (!json_is_object(banks)) {
		verr_set(e, "policy-malformed", "bank map must be an object");
		return -1;
	}
	json_object_foreach (banks, bname, pcrs) {
		uint16_t alg = tpm_alg_hash_from_name(bname);
		size_t ds = tpm_alg_digest_size(alg);
		if (ds == 0 || !json_is_object(pcrs)) {
			verr_set(e, "policy-malformed", "unknown bank \"%s\" or not an object",
				 bname);
			return -1;
		}
		json_object_foreach (pcrs, pname, vals) {
			struct pcr_policy_rule *r, *nr;
			unsigned pcr;
			if (parse_pcr_index(pname, &pcr) != 0 || !json_is_array(vals) ||
			    json_array_size(vals) == 0 ||
			    json_array_size(vals) > PCR_POLICY_MAX_VALUES) {
				verr_set(e, "policy-malformed",
					 "%s PCR \"%s\": need an index 0-23 and 1-%d values", bname,
					 pname, PCR_POLICY_MAX_VALUES);
				return -1;
			}
			nr = realloc(*out, (*nout + 1) * sizeof(**out));
			if (nr == NULL) {
				verr_set(e, "internal", "out of memory");
				return -1;
			}
			*out = nr;
			r = &nr[(*nout)++];
			memset(r, 0, sizeof(*r));
			r->alg = alg;
			r->pcr = pcr;
			r->values = calloc(json_array_size(vals), sizeof(*r->values));
			if (r->values == NULL) {
				verr_set(e, "internal", "out of memory");
				return -1;
			}
			json_array_foreach (vals, idx, v) {
				const char *s = json_string_value(v);
				if (s == NULL || strlen(s) != 2 * ds ||
				    hex_decode(s, r->values[idx], sizeof(r->values[idx])) !=
					    (long)ds) {
					verr_set(e, "policy-malformed",
						 "%s PCR %u: value %zu is not %zu bytes of hex",
						 bname, pcr, idx, ds);
					return -1;
				}
				r->nvalues++;
			}
		}
	}
	return 0;
}

struct pcr_policy *pcr_policy_parse(const char *text, size_t len, struct verr *e)
{
	struct pcr_policy *pol = calloc(1, sizeof(*pol));
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;
	int ok = 0;

	if (pol == NULL) {
		verr_set(e, "internal", "out of memory");
		goto out;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		verr_set(e, "policy-malformed", "policy is not a JSON object: %s",
			 root ? "" : jerr.text);
		goto out;
	}
	json_object_foreach (root, key, v) {
		if (strcmp(key, "pcrs") == 0) {
			if (parse_rules(v, &pol->rules, &pol->nrules, e) != 0)
				goto out;
		} else if (strcmp(key, "events") == 0) {
			if (parse_rules(v, &pol->evrules, &pol->nevrules, e) != 0)
				goto out;
		} else {
			verr_set(e, "policy-malformed", "unknown policy key \"%s\"", key);
			goto out;
		}
	}
	if (pol->nrules + pol->nevrules == 0) {
		verr_set(e, "policy-empty", "policy names no PCR");
		goto out;
	}
	ok = 1;
out:
	json_decref(root);
	if (!ok) {
		pcr_policy_free(pol);
		pol = NULL;
	}
	return pol;
}

static int listed(const struct pcr_policy_rule *r, const uint8_t *d, size_t ds)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (memcmp(r->values[i], d, ds) == 0)
			return 1;
	return 0;
}

static void add_failure(struct pcr_policy_failure *f, size_t maxf, size_t *nf,
			const struct pcr_policy_rule *r, const char *code, const char *detail)
{
	if (f != NULL && *nf < maxf) {
		f[*nf].alg = r->alg;
		f[*nf].pcr = r->pcr;
		snprintf(f[*nf].code, sizeof(f[*nf].code), "%s", code);
		snprintf(f[*nf].detail, sizeof(f[*nf].detail), "%s", detail);
	}
	(*nf)++;
}

int pcr_policy_evaluate_report(const struct pcr_policy *pol, const struct pcr_set *covered,
			       const struct eventlog *log, struct pcr_policy_failure *f,
			       size_t maxf, size_t *nf, struct verr *e)
{
	char detail[160], hex[129];
	const char *first_code = NULL;
	size_t fails = 0;

	for (size_t i = 0; i < pol->nrules + pol->nevrules; i++) {
		const struct pcr_policy_rule *r =
			i < pol->nrules ? &pol->rules[i] : &pol->evrules[i - pol->nrules];
		const struct pcr_bank *bk = pcr_set_bank(covered, r->alg);
		size_t ds = tpm_alg_digest_size(r->alg), before = fails;
		const char *code = NULL;

		if (bk == NULL || !(bk->mask & (1u << r->pcr))) {
			code = "pcr-not-quoted";
			snprintf(detail, sizeof(detail),
				 "policy names %s PCR %u but the quote does not cover it",
				 tpm_alg_hash_name(r->alg), r->pcr);
			add_failure(f, maxf, &fails, r, code, detail);
		} else if (i < pol->nrules) {
			if (!listed(r, bk->v[r->pcr], ds)) {
				code = "pcr-mismatch";
				hex_encode(bk->v[r->pcr], ds, hex);
				snprintf(detail, sizeof(detail),
					 "%s PCR %u is %.16s..., not one of %zu allowed values",
					 tpm_alg_hash_name(r->alg), r->pcr, hex, r->nvalues);
				add_failure(f, maxf, &fails, r, code, detail);
			}
		} else if (log == NULL) {
			code = "eventlog-required";
			snprintf(
				detail, sizeof(detail),
				"policy allow-lists events of %s PCR %u but no event log was given",
				tpm_alg_hash_name(r->alg), r->pcr);
			add_failure(f, maxf, &fails, r, code, detail);
		} else {
			/* Judge each event by its digest in this bank; its type is
			 * unauthenticated and plays no part. */
			for (size_t k = 0; k < log->nevents && fails == before; k++) {
				const struct eventlog_event *ev = &log->ev[k];
				if (ev->pcr != r->pcr || ev->type == EV_NO_ACTION)
					continue;
				for (size_t j = 0; j < ev->ndigests; j++) {
					if (ev->digests[j].alg != r->alg ||
					    listed(r, ev->digests[j].d, ds))
						continue;
					code = "event-not-allowed";
					hex_encode(ev->digests[j].d, ds, hex);
					snprintf(
						detail, sizeof(detail),
						"event %zu in %s PCR %u has digest %.16s..., not allowed",
						k + 1, tpm_alg_hash_name(r->alg), r->pcr, hex);
					add_failure(f, maxf, &fails, r, code, detail);
				}
			}
		}
		if (first_code == NULL && code != NULL)
			first_code = code;
	}
	*nf = fails;
	if (fails > 0) {
		verr_set(e, first_code, "%zu PCR policy check%s failed", fails,
			 fails == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

int pcr_policy_evaluate(const struct pcr_policy *pol, const struct pcr_set *covered,
			const struct eventlog *log, struct verr *e)
{
	struct pcr_policy_failure f[1];
	size_t nf = 0;
	int rc = pcr_policy_evaluate_report(pol, covered, log, f, 1, &nf, e);

	/* Say which PCR failed first, not only how many. */
	if (rc != 0 && e != NULL && nf > 0)
		snprintf(e->msg, sizeof(e->msg), "%s (%zu failure%s)", f[0].detail, nf,
			 nf == 1 ? "" : "s");
	return rc;
}

void pcr_policy_free(struct pcr_policy *pol)
{
	if (pol == NULL)
		return;
	for (size_t i = 0; i < pol->nrules; i++)
		free(pol->rules[i].values);
	for (size_t i = 0; i < pol->nevrules; i++)
		free(pol->evrules[i].values);
	free(pol->rules);
	free(pol->evrules);
	free(pol);
}
