/* PCR policy documents (jansson) and their evaluation against quoted PCRs
 * and replayed event logs, with one reason per failing PCR. */
#include "verifier/pcr_policy.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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
		} else if (strcmp(key, "forbiddenEvents") == 0) {
			if (parse_rules(v, &pol->forbid, &pol->nforbid, e) != 0)
				goto out;
		} else if (strcmp(key, "requiredEvents") == 0) {
			if (parse_rules(v, &pol->require, &pol->nrequire, e) != 0)
				goto out;
		} else if (strcmp(key, "secureBoot") == 0) {
			if (!json_is_boolean(v)) {
				verr_set(e, "policy-malformed", "secureBoot must be true or false");
				goto out;
			}
			pol->secure_boot = json_is_true(v);
		} else {
			verr_set(e, "policy-malformed", "unknown policy key \"%s\"", key);
			goto out;
		}
	}
	if (pol->nrules + pol->nevrules + pol->nforbid + pol->nrequire == 0 && !pol->secure_boot) {
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

/* A PCR an event rule names must be quoted (else the log's events for it
 * vouch for nothing) and there must be a log. NULL when both hold. */
static const char *needs_log(const struct pcr_policy_rule *r, const struct pcr_set *covered,
			     const struct eventlog *log, char *detail)
{
	const struct pcr_bank *bk = pcr_set_bank(covered, r->alg);

	if (bk == NULL || !(bk->mask & (1u << r->pcr))) {
		snprintf(detail, 160, "policy names %s PCR %u but the quote does not cover it",
			 tpm_alg_hash_name(r->alg), r->pcr);
		return "pcr-not-quoted";
	}
	if (log == NULL) {
		snprintf(detail, 160,
			 "policy has event rules for %s PCR %u but no event log was given",
			 tpm_alg_hash_name(r->alg), r->pcr);
		return "eventlog-required";
	}
	return NULL;
}

/* The digest of event ev in bank alg, or NULL. */
static const uint8_t *event_digest(const struct eventlog_event *ev, uint16_t alg)
{
	for (size_t j = 0; j < ev->ndigests; j++)
		if (ev->digests[j].alg == alg)
			return ev->digests[j].d;
	return NULL;
}

/* "forbiddenEvents" (forbid) or "requiredEvents": a failure code with
 * detail, or NULL. */
static const char *event_rule(const struct pcr_policy_rule *r, int forbid,
			      const struct pcr_set *covered, const struct eventlog *log,
			      char *detail)
{
	size_t ds = tpm_alg_digest_size(r->alg);
	const char *code = needs_log(r, covered, log, detail);
	char hex[129];

	if (code != NULL)
		return code;
	for (size_t v = 0; v < r->nvalues; v++) {
		size_t seen = 0;
		for (size_t k = 0; k < log->nevents; k++) {
			const struct eventlog_event *ev = &log->ev[k];
			const uint8_t *d = event_digest(ev, r->alg);
			if (ev->pcr != r->pcr || ev->type == EV_NO_ACTION || d == NULL ||
			    memcmp(d, r->values[v], ds) != 0)
				continue;
			seen = k + 1;
			break;
		}
		hex_encode(r->values[v], ds, hex);
		if (forbid && seen) {
			snprintf(detail, 160,
				 "event %zu in %s PCR %u has forbidden digest %.16s...", seen,
				 tpm_alg_hash_name(r->alg), r->pcr, hex);
			return "event-forbidden";
		}
		if (!forbid && !seen) {
			snprintf(detail, 160, "no event in %s PCR %u has required digest %.16s...",
				 tpm_alg_hash_name(r->alg), r->pcr, hex);
			return "event-missing";
		}
	}
	return NULL;
}

/* EFI_GLOBAL_VARIABLE {8BE4DF61-93CA-11D2-AA0D-00E098032B8C} as UEFI lays
 * out an EFI_GUID, and "SecureBoot" in UTF-16LE. */
static const uint8_t efi_global[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
				       0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
#define EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The SecureBoot value event ev carries (UEFI_VARIABLE_DATA: GUID, name
 * length in chars, data length, name, data), or -1 when it is another. */
static int secure_boot_value(const struct eventlog_event *ev)
{
	static const char name[] = "SecureBoot";
	const size_t nlen = sizeof name - 1;
	uint64_t chars, dlen;

	if (ev->type != EV_EFI_VARIABLE_DRIVER_CONFIG || ev->data_len < 32 ||
	    memcmp(ev->data, efi_global, 16) != 0)
		return -1;
	chars = le64(ev->data + 16);
	dlen = le64(ev->data + 24);
	if (chars != nlen || dlen < 1 || ev->data_len != 32 + 2 * nlen + dlen)
		return -1;
	for (size_t i = 0; i < nlen; i++)
		if (ev->data[32 + 2 * i] != (uint8_t)name[i] || ev->data[33 + 2 * i] != 0)
			return -1;
	return ev->data[32 + 2 * nlen];
}

/* "secureBoot": the last SecureBoot event of PCR 7 says 1, and its SHA-256
 * digest (replayed into the quoted PCR 7) is the hash of its data, so the
 * data is as measured although the event type is not. */
static const char *secure_boot_rule(const struct pcr_set *covered, const struct eventlog *log,
				    char *detail)
{
	static const struct pcr_policy_rule r7 = {0x000b, 7, 0, NULL};
	const char *code = needs_log(&r7, covered, log, detail);
	int value = -1;

	if (code != NULL)
		return code;
	for (size_t k = 0; k < log->nevents; k++) {
		const struct eventlog_event *ev = &log->ev[k];
		const uint8_t *d = event_digest(ev, 0x000b);
		uint8_t h[32];
		int v;
		if (ev->pcr != 7 || d == NULL || (v = secure_boot_value(ev)) < 0)
			continue;
		if (EVP_Digest(ev->data, ev->data_len, h, NULL, EVP_sha256(), NULL) != 1 ||
		    memcmp(h, d, 32) != 0) {
			snprintf(
				detail, 160,
				"event %zu (SecureBoot) in PCR 7: its data does not hash to its digest",
				k + 1);
			return "secureboot-off";
		}
		value = v;
	}
	if (value != 1) {
		snprintf(detail, 160,
			 value < 0 ? "the event log measures no SecureBoot variable in PCR 7"
				   : "the event log shows SecureBoot disabled (%d)",
			 value);
		return "secureboot-off";
	}
	return NULL;
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
	for (size_t i = 0; i < pol->nforbid + pol->nrequire; i++) {
		const struct pcr_policy_rule *r =
			i < pol->nforbid ? &pol->forbid[i] : &pol->require[i - pol->nforbid];
		const char *code = event_rule(r, i < pol->nforbid, covered, log, detail);
		if (code != NULL) {
			add_failure(f, maxf, &fails, r, code, detail);
			if (first_code == NULL)
				first_code = code;
		}
	}
	if (pol->secure_boot) {
		static const struct pcr_policy_rule sb = {0x000b /* SHA-256 */, 7, 0, NULL};
		const char *code = secure_boot_rule(covered, log, detail);
		if (code != NULL) {
			add_failure(f, maxf, &fails, &sb, code, detail);
			if (first_code == NULL)
				first_code = code;
		}
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
	for (size_t i = 0; i < pol->nforbid; i++)
		free(pol->forbid[i].values);
	for (size_t i = 0; i < pol->nrequire; i++)
		free(pol->require[i].values);
	free(pol->rules);
	free(pol->evrules);
	free(pol->forbid);
	free(pol->require);
	free(pol);
}
