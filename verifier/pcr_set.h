/* PCR values per bank: read from tpm2-tools files, digested over a quote's
 * selection, and, once a quote vouches for them, the only values trusted. */
#ifndef ORCHARD_VERIFIER_PCR_SET_H
#define ORCHARD_VERIFIER_PCR_SET_H
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/verr.h"

#define PCR_COUNT 24
#define PCR_BANKS 4

struct pcr_bank {
	uint16_t alg;  /* TPM hash ID */
	uint32_t mask; /* bit i set: v[i] holds PCR i */
	uint8_t v[PCR_COUNT][64];
};

struct pcr_set {
	size_t nbanks;
	struct pcr_bank bank[PCR_BANKS];
};

/* The bank for alg, or NULL; pcr_set_bank_add creates it if missing
 * (NULL when alg is unknown or all banks are in use). */
struct pcr_bank *pcr_set_bank(const struct pcr_set *s, uint16_t alg);
struct pcr_bank *pcr_set_bank_add(struct pcr_set *s, uint16_t alg);

/* Reads the PCR file tpm2_quote -o writes. Two layouts exist (-F): the
 * default "serialized" (TPML_PCR_SELECTION, a count and TPML_DIGESTs, as
 * little-endian in-memory structs) is self-describing; "values" is the bare
 * digests and needs sel, the quote's selection (pass NULL to refuse it).
 * Returns 0, or -1 with e set. */
int pcr_set_read_tpm2tools(const uint8_t *b, size_t n, const TPML_PCR_SELECTION *sel,
			   struct pcr_set *out, struct verr *e);

/* Checks that a selection is well formed (known banks, no bank twice,
 * sizeofSelect <= 3, so PCRs 0-23 only). Returns 0, or -1 with e set. */
int pcr_selection_check(const TPML_PCR_SELECTION *sel, struct verr *e);

/* Digest with hash alg over the values of the PCRs that sel names, in the
 * TPM's order (selection order, then ascending PCR index). Every named
 * PCR must be present in s. On success writes the digest and its size.
 * Also copies the selected values into covered (if not NULL): the PCRs a
 * quote vouches for. Returns 0, or -1 with e set. */
int pcr_set_digest(const struct pcr_set *s, const TPML_PCR_SELECTION *sel, uint16_t alg,
		   uint8_t *out, size_t *outlen, struct pcr_set *covered, struct verr *e);

#endif
