/* The EK/AK binding: an AK is trusted for a device only after credential
 * activation proves it lives in the TPM holding that EK, and from then on
 * the pair is fixed. Every later quote is verified through the binding, so
 * no caller can pair an EK's identity with some other AK's quote (Keylime's
 * CVE-2022-1053: the registrar and the verifier each trusted a different AK). */
#ifndef ORCHARD_VERIFIER_BINDING_H
#define ORCHARD_VERIFIER_BINDING_H
#include <stddef.h>
#include <stdint.h>

#include "verifier/ak.h"
#include "verifier/quote.h"
#include "verifier/verr.h"

#define BINDING_SECRET_LEN 32

struct binding;

/* Starts binding ak_pub (checked as an AK) to ek_pub (an EK public area,
 * whose certificate the caller has verified). Computes the AK's Qualified
 * Name as a child of that EK in the endorsement hierarchy, which every
 * quote's qualifiedSigner must then equal. NULL with e set; free with
 * binding_free. */
struct binding *binding_new(const uint8_t *ek_pub, size_t ekn, const uint8_t *ak_pub, size_t akn,
			    struct verr *e);

/* Recreates a binding that binding_activate completed earlier (the server
 * stores both public areas after activation). Only for bytes the caller
 * itself stored; NULL with e set. */
struct binding *binding_restore(const uint8_t *ek_pub, size_t ekn, const uint8_t *ak_pub,
				size_t akn, struct verr *e);

/* Makes the activation challenge: a credential (tpm2-tools -i format)
 * wrapping secret (BINDING_SECRET_LEN bytes; NULL draws a random one) for
 * the EK and the AK's Name. Only a hash of the secret is kept, and a new
 * challenge replaces any outstanding one. Writes up to
 * cap bytes to out and the length to *len. Returns 0 or -1 with e set. */
int binding_challenge(struct binding *b, const uint8_t *secret, uint8_t *out, size_t cap,
		      size_t *len, struct verr *e);

/* Checks the secret the device's TPM released. Each challenge allows one
 * answer, right or wrong ("activation-failed"; "activation-no-challenge"
 * when none is outstanding). On success the binding is fixed. 0 or -1. */
int binding_activate(struct binding *b, const uint8_t *secret, size_t n, struct verr *e);

/* Exports the outstanding challenge (the SHA-256 of its secret) so that
 * another orchardd process can take the device's answer: store it with the
 * registration, and delete it when the answer arrives (one answer per
 * challenge across processes is the store's job). Returns 0, or -1 when no
 * challenge is outstanding. */
int binding_pending(const struct binding *b, uint8_t hash[32]);

/* binding_new, with an outstanding challenge taken from binding_pending. */
struct binding *binding_resume(const uint8_t *ek_pub, size_t ekn, const uint8_t *ak_pub, size_t akn,
			       const uint8_t hash[32], struct verr *e);

/* True once activated. */
int binding_is_active(const struct binding *b);

/* A device presents an EK and an AK again (re-registration): both must be
 * exactly the bound ones ("ek-mismatch", "ak-substituted"). 0 or -1. */
int binding_check_pair(const struct binding *b, const uint8_t *ek_pub, size_t ekn,
		       const uint8_t *ak_pub, size_t akn, struct verr *e);

/* Verifies a quote with the bound AK, requiring qualifiedSigner to be that
 * AK under the bound EK; refuses before activation ("binding-inactive").
 * in->qualified_signer is ignored. Returns 0 or -1 with e set. */
int binding_verify_quote(const struct binding *b, const struct quote_input *in,
			 struct quote_result *out, struct verr *e);

/* The bound AK (for its Name or cached key); never NULL for a live binding. */
const struct ak_key *binding_ak(const struct binding *b);

/* Frees b (NULL-safe), wiping the secret's hash. */
void binding_free(struct binding *b);

#endif
