/* The verifier's reasons, grouped into the attestation codes of the error
 * registry: a device sees which kind of check failed, operators the reason. */
#include "verifier/verr_map.h"

#include <string.h>

/* Evidence the device sent that does not parse is its fault (400); evidence
 * that parses but fails a check is a refusal (403); our own configuration
 * or crypto failing is ours (500). */
const struct verr_map_row verr_map_rows[] = {
	/* Parsing what the device sent. */
	{"attest-magic", ERR_ATTEST_MALFORMED},
	{"attest-malformed", ERR_ATTEST_MALFORMED},
	{"attest-trailing", ERR_ATTEST_MALFORMED},
	{"attest-truncated", ERR_ATTEST_MALFORMED},
	{"attest-type", ERR_ATTEST_MALFORMED},
	{"dps-keys", ERR_ATTEST_MALFORMED},
	{"ek-cert-malformed", ERR_ATTEST_MALFORMED},
	{"eventlog-malformed", ERR_ATTEST_MALFORMED},
	{"eventlog-specid", ERR_ATTEST_MALFORMED},
	{"eventlog-too-large", ERR_ATTEST_MALFORMED},
	{"eventlog-truncated", ERR_ATTEST_MALFORMED},
	{"makecred-ek", ERR_ATTEST_MALFORMED},
	{"makecred-input", ERR_ATTEST_MALFORMED},
	{"nonce-length", ERR_ATTEST_MALFORMED},
	{"pcr-selection", ERR_ATTEST_MALFORMED},
	{"pcrs-malformed", ERR_ATTEST_MALFORMED},
	{"pcrs-missing", ERR_ATTEST_MALFORMED},
	{"pcrs-truncated", ERR_ATTEST_MALFORMED},
	{"public-curve", ERR_ATTEST_MALFORMED},
	{"public-ecc-point", ERR_ATTEST_MALFORMED},
	{"public-malformed", ERR_ATTEST_MALFORMED},
	{"public-namealg", ERR_ATTEST_MALFORMED},
	{"public-rsa", ERR_ATTEST_MALFORMED},
	{"public-rsa-size", ERR_ATTEST_MALFORMED},
	{"public-size", ERR_ATTEST_MALFORMED},
	{"public-trailing", ERR_ATTEST_MALFORMED},
	{"public-truncated", ERR_ATTEST_MALFORMED},
	{"public-type", ERR_ATTEST_MALFORMED},
	{"sig-malformed", ERR_ATTEST_MALFORMED},
	{"sig-trailing", ERR_ATTEST_MALFORMED},
	/* The endorsement key and its certificate. */
	{"ek-attributes", ERR_ATTEST_EK_UNTRUSTED},
	{"ek-cert-mismatch", ERR_ATTEST_EK_UNTRUSTED},
	{"ek-chain", ERR_ATTEST_EK_UNTRUSTED},
	{"ek-expired", ERR_ATTEST_EK_UNTRUSTED},
	{"ek-mismatch", ERR_ATTEST_EK_UNTRUSTED},
	{"ek-not-yet-valid", ERR_ATTEST_EK_UNTRUSTED},
	/* The attestation key and its binding to the EK. */
	{"ak-curve", ERR_ATTEST_KEY_REJECTED},
	{"ak-decrypt", ERR_ATTEST_KEY_REJECTED},
	{"ak-namealg", ERR_ATTEST_KEY_REJECTED},
	{"ak-not-fixedparent", ERR_ATTEST_KEY_REJECTED},
	{"ak-not-fixedtpm", ERR_ATTEST_KEY_REJECTED},
	{"ak-not-restricted", ERR_ATTEST_KEY_REJECTED},
	{"ak-not-sensitivedataorigin", ERR_ATTEST_KEY_REJECTED},
	{"ak-not-sign", ERR_ATTEST_KEY_REJECTED},
	{"ak-other-key", ERR_ATTEST_KEY_REJECTED},
	{"ak-substituted", ERR_ATTEST_KEY_REJECTED},
	{"ak-type", ERR_ATTEST_KEY_REJECTED},
	{"ak-weak", ERR_ATTEST_KEY_REJECTED},
	{"binding-fixed", ERR_ATTEST_KEY_REJECTED},
	{"binding-inactive", ERR_ATTEST_KEY_REJECTED},
	/* Signatures over the quote, and what the quote covers. */
	{"pcr-digest", ERR_ATTEST_SIGNATURE},
	{"quote-signer", ERR_ATTEST_SIGNATURE},
	{"sig-hash", ERR_ATTEST_SIGNATURE},
	{"sig-invalid", ERR_ATTEST_SIGNATURE},
	{"sig-scheme", ERR_ATTEST_SIGNATURE},
	/* Freshness. */
	{"nonce-expired", ERR_ATTEST_NONCE},
	{"nonce-mismatch", ERR_ATTEST_NONCE},
	{"nonce-unknown", ERR_ATTEST_NONCE},
	{"clock-rollback", ERR_ATTEST_CLOCK},
	/* The fleet's measurement policy. */
	{"event-forbidden", ERR_ATTEST_POLICY},
	{"event-missing", ERR_ATTEST_POLICY},
	{"event-not-allowed", ERR_ATTEST_POLICY},
	{"pcr-mismatch", ERR_ATTEST_POLICY},
	{"secureboot-off", ERR_ATTEST_POLICY},
	{"pcr-not-quoted", ERR_ATTEST_POLICY},
	{"eventlog-mismatch", ERR_ATTEST_EVENTLOG},
	{"eventlog-required", ERR_ATTEST_EVENTLOG},
	{"eventlog-uncovered", ERR_ATTEST_EVENTLOG},
	/* Credential activation. */
	{"activation-failed", ERR_ATTEST_ACTIVATION},
	{"activation-no-challenge", ERR_ATTEST_ACTIVATION},
	/* Ours: configuration, storage, crypto. */
	{"dps-key", ERR_ATTEST_INTERNAL},
	{"dps-wrap", ERR_ATTEST_INTERNAL},
	{"internal", ERR_ATTEST_INTERNAL},
	{"jwt-key", ERR_ATTEST_INTERNAL},
	{"jwt-sign", ERR_ATTEST_INTERNAL},
	{"makecred-seed", ERR_ATTEST_INTERNAL},
	{"makecred-wrap", ERR_ATTEST_INTERNAL},
	{"nonce-store", ERR_ATTEST_INTERNAL},
	{"policy-empty", ERR_ATTEST_INTERNAL},
	{"policy-malformed", ERR_ATTEST_INTERNAL},
	{"roots-empty", ERR_ATTEST_INTERNAL},
	{"roots-read", ERR_ATTEST_INTERNAL},

	{NULL, ERR_ATTEST_INTERNAL},
};

int verr_map_lookup(const char *reason, enum err_code *out)
{
	if (reason == NULL)
		return -1;
	for (const struct verr_map_row *r = verr_map_rows; r->reason != NULL; r++) {
		if (strcmp(r->reason, reason) == 0) {
			*out = r->err;
			return 0;
		}
	}
	return -1;
}

enum err_code verr_err_code(const char *reason)
{
	enum err_code err = ERR_ATTEST_INTERNAL;

	verr_map_lookup(reason, &err);
	return err;
}
